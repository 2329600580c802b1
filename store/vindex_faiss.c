/* store/vindex_faiss.c: the FAISS layer of the vector indexes. The only
 * file of the project that includes FAISS headers (the Makefile gives it
 * alone -isystem build/faiss/include); every other layer holds a group's
 * index as an opaque pointer and calls the functions here.
 *
 * What it does: creates a group's index, adds, removes and searches
 * vectors, writes an index to and reads it from a stdio stream, checks an
 * index factory string, and turns FAISS's errors into rag_err. What it
 * owns: the process-wide FAISS settings and the OpenMP thread count around
 * searches. What it calls: the FAISS C API (static libfaiss_c.a), and
 * vindex.c for the sorted id mirrors.
 *
 * Index kinds. Vector ids are chunk ids (AUTOINCREMENT: never reused). A
 * group holds an IndexIDMap2 (ids = chunk ids, removal and reconstruction by
 * id) over IndexFlatIP: exact inner product. A group with more than
 * params.large_group vectors, at the time it is (re)built, gets
 * "IDMap2,<large_factory>" instead (default HNSW32,Flat: approximate,
 * efSearch = params.ef_search). HNSW cannot remove ids: a removal marks the
 * group for a rebuild from SQLite (vindex_build.c). Factories that need
 * training (IVF...) are trained on the first vectors added.
 *
 * Threads. FAISS parallelises with OpenMP. A single-query search gains
 * little from it (the flat scan of one query runs on one thread anyway,
 * and HNSW's and IndexIDMap's loops are per query) but wakes a team of
 * spinning threads that steal cores from our own compute pool: measured at
 * 384 dims, a second thread bought 5% (HNSW, 20k) to 13% (flat, 100k) of
 * latency for twice the CPU time. So searches run with one OpenMP thread
 * (set around the call, for the calling thread only). Builds (HNSW
 * insertion of many vectors) keep OpenMP's default: bulk work at ingest
 * time, where the parallelism pays.
 *
 * Flat scans through BLAS. Debian's libfaiss.a is built for generic x86-64
 * (no AVX2), so its scalar loop scans 100k x 384 for one query in ~45 ms;
 * with FAISS's BLAS threshold at 1 the same scan is one OpenBLAS sgemm per
 * block (AVX2/AVX-512 chosen at run time): ~9 ms, same results. The
 * threshold is process-wide FAISS state, set once here (we are FAISS's only
 * user).
 *
 * Errors. FAISS reports failures through faiss_get_last_error();
 * vindex_faiss_fail is the one place that turns them into rag_err, naming
 * the group's file. */
#include "store/vindex_int.h"
#include "base/mem.h"

#include <faiss/c_api/AutoTune_c.h>
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/MetaIndexes_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/impl/AuxIndexStructures_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>
#include <faiss/c_api/utils/distances_c.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<omp.h>)
#include <omp.h>
#define HAVE_OMP_H 1
#endif
#endif
#ifndef HAVE_OMP_H
/* libgomp (linked for FAISS) provides these; clang may lack the header. */
void omp_set_num_threads(int n);
int omp_get_max_threads(void);
#endif

static void faiss_setup(void)
{
    faiss_set_distance_compute_blas_threshold(1);
}

void vindex_faiss_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, faiss_setup);
}

/* ---- FAISS errors: the one place they become rag_err --------------------- */

int vindex_faiss_fail(rag_err *err, int code, const vindex *vi, int64_t group, const char *what)
{
    const char *m = faiss_get_last_error();
    char msg[200];
    /* FAISS's messages say where it threw ("Error in <signature> at
     * faiss/x.cpp:123: why"), then why: keep the why, on one line. */
    const char *at = m ? strstr(m, ".cpp:") : NULL;
    const char *why = at ? strstr(at, ": ") : NULL;
    if (why) m = why + 2;
    snprintf(msg, sizeof msg, "%s", m && *m ? m : "unknown FAISS error");
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    if (group < 0) return rag_err_set(err, code, "%s: %s: %s", vi->dir, what, msg);
    return rag_err_set(err, code, "%s/group-%lld.faiss: %s: %s", vi->dir, (long long)group, what,
                       msg);
}

/* ---- OpenMP: one thread around searches (see "Threads" above) ------------ */

int vindex_omp_single_begin(void)
{
    int prev = omp_get_max_threads();
    omp_set_num_threads(1);
    return prev;
}

void vindex_omp_single_end(int prev)
{
    omp_set_num_threads(prev > 0 ? prev : 1);
}

/* ---- one group's index --------------------------------------------------- */

void vindex_idx_free(FaissIndex *idx)
{
    if (idx) faiss_Index_free(idx);
}

int vindex_idx_is_flat(FaissIndex *idx)
{
    FaissIndex *sub = faiss_IndexIDMap2_sub_index(faiss_IndexIDMap2_cast(idx));
    return sub && faiss_IndexFlat_cast(sub) != NULL;
}

int vindex_idx_is_trained(FaissIndex *idx)
{
    return faiss_Index_is_trained(idx);
}

int vindex_idx_write(FaissIndex *idx, FILE *f)
{
    return faiss_write_index(idx, f);
}

int vindex_idx_read(vindex *vi, vgroup *g, FILE *f, int64_t count, const char **why)
{
    FaissIndex *idx = NULL;
    if (faiss_read_index(f, 0, &idx) || !idx) {
        *why = "FAISS cannot read it";
        goto fail;
    }
    if (!faiss_IndexIDMap2_cast(idx) || faiss_Index_d(idx) != vi->dims ||
        faiss_Index_metric_type(idx) != METRIC_INNER_PRODUCT || faiss_Index_ntotal(idx) != count ||
        !faiss_Index_is_trained(idx)) {
        *why = "index of another shape than the manifest says";
        goto fail;
    }
    g->idx = idx;
    idx = NULL;
    if (vindex_ids_from_index(g)) {
        *why = "index with invalid ids";
        faiss_Index_free(g->idx);
        g->idx = NULL;
        goto fail;
    }
    g->flat = vindex_idx_is_flat(g->idx);
    return 0;
fail:
    if (idx) faiss_Index_free(idx);
    return 1;
}

/* The ids of a freshly read or built index, from its id map, sorted.
 * Duplicate or non-positive ids mean the index cannot be trusted. */
int vindex_ids_from_index(vgroup *g)
{
    FaissIndexIDMap2 *m = faiss_IndexIDMap2_cast(g->idx);
    if (!m) return -1;
    idx_t *map = NULL;
    size_t n = 0;
    faiss_IndexIDMap2_id_map(m, &map, &n);
    if ((idx_t)n != faiss_Index_ntotal(g->idx)) return -1;
    g->n_ids = 0;
    g->ids = rag_xgrow(g->ids, &g->cap_ids, n ? n : 1, sizeof *g->ids);
    for (size_t i = 0; i < n; i++)
        g->ids[i] = map[i];
    g->n_ids = n;
    qsort(g->ids, n, sizeof *g->ids, vindex_cmp_i64);
    for (size_t i = 0; i < n; i++)
        if (g->ids[i] <= 0 || (i && g->ids[i] == g->ids[i - 1])) return -1;
    return 0;
}

void vindex_set_ef_search(vindex *vi, vgroup *g)
{
    if (!g->idx || g->flat) return;
    FaissParameterSpace *ps = NULL;
    if (faiss_ParameterSpace_new(&ps)) return;
    /* Fails for large factories without efSearch (IVF...): that is fine. */
    faiss_ParameterSpace_set_index_parameter(ps, g->idx, "efSearch", vi->ef_search);
    faiss_ParameterSpace_free(ps);
}

int vindex_idx_new(vindex *vi, int64_t gid, int large, FaissIndex **out, rag_err *err)
{
    char factory[VINDEX_MAX_FACTORY + 16];
    if (!large)
        snprintf(factory, sizeof factory, "IDMap2,Flat");
    else if (!strncmp(vi->large_factory, "IDMap2,", 7))
        snprintf(factory, sizeof factory, "%s", vi->large_factory);
    else
        snprintf(factory, sizeof factory, "IDMap2,%s", vi->large_factory);
    *out = NULL;
    if (faiss_index_factory(out, vi->dims, factory, METRIC_INNER_PRODUCT) || !*out) {
        char what[VINDEX_MAX_FACTORY + 40];
        snprintf(what, sizeof what, "index factory \"%s\"", factory);
        return vindex_faiss_fail(err, RAG_ERR_INVALID, vi, gid, what);
    }
    if (!faiss_IndexIDMap2_cast(*out)) {
        faiss_Index_free(*out);
        *out = NULL;
        return rag_err_set(err, RAG_ERR_INVALID, "%s: index factory \"%s\" does not give an IDMap2",
                           vi->dir, factory);
    }
    return 0;
}

int store_vindex_check_factory(store *s, const char *factory, rag_err *err)
{
    if (!factory || !*factory) return 0;
    if (strlen(factory) > VINDEX_MAX_FACTORY)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "index factory \"%.40s...\" is longer than %d characters", factory,
                           VINDEX_MAX_FACTORY);
    store_model m;
    int rc = vindex_active_model(s, &m, err);
    if (rc <= 0) return rc; /* no model yet: checked when there is one */
    vindex *vi = vindex_of(s);
    char full[VINDEX_MAX_FACTORY + 16];
    snprintf(full, sizeof full, "%s%s", strncmp(factory, "IDMap2,", 7) ? "IDMap2," : "", factory);
    FaissIndex *idx = NULL;
    if (faiss_index_factory(&idx, m.dims, full, METRIC_INNER_PRODUCT) || !idx) {
        char what[VINDEX_MAX_FACTORY + 80];
        snprintf(what, sizeof what, "index factory \"%s\" for %d dimensions", factory, m.dims);
        return vindex_faiss_fail(err, RAG_ERR_INVALID, vi, -1, what);
    }
    int ok = faiss_IndexIDMap2_cast(idx) != NULL;
    faiss_Index_free(idx);
    if (!ok)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "index factory \"%s\" does not give an index ids can be mapped onto",
                           factory);
    return 0;
}

/* Adds n vectors to g (training the index first when it needs it). */
int vindex_group_add(vindex *vi, vgroup *g, size_t n, const float *x, const int64_t *ids,
                     rag_err *err)
{
    if (!n) return 0;
    if (!faiss_Index_is_trained(g->idx) && faiss_Index_train(g->idx, (idx_t)n, x))
        return vindex_faiss_fail(err, RAG_ERR_INVALID, vi, g->id, "train");
    if (faiss_Index_add_with_ids(g->idx, (idx_t)n, x, (const idx_t *)ids))
        return vindex_faiss_fail(err, RAG_ERR_NOMEM, vi, g->id, "add vectors");
    g->dirty = 1;
    return 0;
}

int vindex_group_remove(vindex *vi, vgroup *g, const int64_t *del, size_t n, rag_err *err)
{
    if (!g->flat) {
        g->rebuild = 1; /* HNSW and the like cannot remove: rebuild at the end */
        return 0;
    }
    FaissIDSelectorBatch *sel = NULL;
    if (faiss_IDSelectorBatch_new(&sel, n, (const idx_t *)del))
        return vindex_faiss_fail(err, RAG_ERR_NOMEM, vi, g->id, "remove vectors");
    size_t removed = 0;
    int frc = faiss_Index_remove_ids(g->idx, (const FaissIDSelector *)sel, &removed);
    faiss_IDSelector_free((FaissIDSelector *)sel);
    if (frc) {
        g->rebuild = 1; /* an index that refuses removal is rebuilt instead */
        return 0;
    }
    vindex_ids_remove(g, del, n);
    g->dirty = 1;
    if (removed != n || (idx_t)g->n_ids != faiss_Index_ntotal(g->idx)) g->rebuild = 1;
    return 0;
}

int vindex_group_search(vindex *vi, vgroup *g, const float *q, size_t k, float *dist, int64_t *lab,
                        rag_err *err)
{
    if (k && faiss_Index_search(g->idx, 1, q, (idx_t)k, dist, lab))
        return vindex_faiss_fail(err, RAG_ERR_INVALID, vi, g->id, "search");
    return 0;
}
