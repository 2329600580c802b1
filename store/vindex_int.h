/* store/vindex_int.h: private layout of the vector indexes, shared by the
 * store/vindex*.c files (the layers are listed atop store/vindex.c). It
 * includes no FAISS header: a group's index is FAISS's opaque FaissIndex,
 * declared here by its tag, and only vindex_faiss.c calls FAISS on it. */
#ifndef RAG_STORE_VINDEX_INT_H
#define RAG_STORE_VINDEX_INT_H

#include "store/store_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define VINDEX_MAX_DIMS 65536
#define VINDEX_MAX_FACTORY 200
#define VINDEX_MANIFEST_MAX_BYTES (64u << 20)

/* FaissIndex of the FAISS C API (typedef struct FaissIndex_H FaissIndex). */
struct FaissIndex_H;

/* ---- in-memory state (vindex.c) ------------------------------------------ */

typedef struct vgroup {
    int64_t id;               /* acl_groups.id */
    struct FaissIndex_H *idx; /* IndexIDMap2 over the group's index; owned */
    int64_t *ids;             /* sorted chunk ids in idx (mirror of its id map) */
    size_t n_ids, cap_ids;
    int flat;           /* sub-index is IndexFlat: ids can be removed */
    int rebuild;        /* rebuild from SQLite at the end of this sync */
    int dirty;          /* differs from the file last read or written */
    uint64_t file_hash; /* the file it matches, when !dirty */
    int64_t file_bytes;
    /* Background catch-up (store_vindex_catch_up) changes idx and ids under
     * it for writing; searches hold it for reading while they use them. */
    pthread_rwlock_t lock;
} vgroup;

struct store_vindex {
    size_t large_group;
    char large_factory[VINDEX_MAX_FACTORY + 1];
    int ef_search;
    int loaded; /* groups/seq hold the state of model_id up to seq */
    int64_t model_id;
    int dims;
    int64_t seq;
    vgroup **g; /* sorted by id; each allocated (stable while the group lives) */
    size_t n_g, cap_g;
    char *dir; /* DB.vectors */
    /* Connections sharing these indexes (store_vindex_share): searches hold
     * the lock for reading; whoever changes the set of groups, seq, the
     * model or (without per-group locks: syncs, configuration) any group
     * holds it for writing. sync_mu is held by every writer (sync, catch-up,
     * configuration), first: one writer at a time, so a writer may read the
     * structure without the lock. Order: sync_mu, lock, a group's lock. */
    pthread_rwlock_t lock;
    pthread_mutex_t sync_mu;
    int refs;       /* connections using it; the last one frees it */
    int shared;     /* more than one connection has used it */
    int background; /* searches never sync: store_vindex_catch_up does */
    int need_full;  /* a catch-up failed half-way: the next one starts afresh */
};
typedef struct store_vindex vindex;

/* An empty vindex for the database at db_path (its files: db_path.vectors),
 * with the default parameters; store_vindex_free releases it. */
vindex *vindex_new(const char *db_path);
/* The connection's indexes, created empty on first use. */
vindex *vindex_of(store *s);
/* Drops every group and forgets the model and sequence. */
void vindex_reset(vindex *vi);

vgroup *vindex_group_new(int64_t id);
/* Empties the group (keeps its id and its lock). */
void vindex_group_clear(vgroup *g);
void vindex_group_free(vgroup *g);
vgroup *vindex_group_find(vindex *vi, int64_t id);
/* The group, created empty (no index yet) when missing. The caller may
 * change the structure (see "Locks" atop vindex.c). */
vgroup *vindex_group_get(vindex *vi, int64_t id);
/* Puts ng (not in vi yet) among vi's groups. */
void vindex_group_insert(vindex *vi, vgroup *ng);
/* Drops groups left without vectors (and without a pending rebuild). */
void vindex_groups_compact(vindex *vi);
/* DB.vectors/group-<id>.faiss (free with rag_free). */
char *vindex_group_path(const vindex *vi, int64_t id);

/* Sorted id mirrors: a group's chunk ids, kept sorted beside its index. */
int vindex_cmp_i64(const void *a, const void *b);
int vindex_bsearch_i64(const int64_t *v, size_t n, int64_t x);
/* Merges sorted `add` (none present yet) into the group's sorted ids. */
void vindex_ids_merge(vgroup *g, const int64_t *add, size_t n);
/* Removes sorted `del` (all present) from the group's ids. */
void vindex_ids_remove(vgroup *g, const int64_t *del, size_t n);
/* Which of sorted q[0..n) the group holds, in order, into out. */
size_t vindex_ids_present(const vgroup *g, const int64_t *q, size_t n, int64_t *out);

/* ---- FAISS (vindex_faiss.c, the only includer of FAISS headers) ---------- */

/* Process-wide FAISS settings, once (vindex_new calls it). */
void vindex_faiss_init(void);
/* The one place FAISS's last error becomes a rag_err, naming the group's
 * file (group < 0: the directory). Returns code. */
int vindex_faiss_fail(rag_err *err, int code, const vindex *vi, int64_t group, const char *what);
/* One OpenMP thread for this thread's FAISS calls until _end(previous). */
int vindex_omp_single_begin(void);
void vindex_omp_single_end(int prev);
void vindex_idx_free(struct FaissIndex_H *idx);
/* An empty IndexIDMap2 of vi->dims, inner product: flat, or (large) of
 * vi->large_factory. */
int vindex_idx_new(vindex *vi, int64_t gid, int large, struct FaissIndex_H **out, rag_err *err);
int vindex_idx_is_flat(struct FaissIndex_H *idx);
int vindex_idx_is_trained(struct FaissIndex_H *idx);
/* faiss_write_index to f: FAISS's result (0: written); the caller turns a
 * failure into a rag_err with vindex_faiss_fail. */
int vindex_idx_write(struct FaissIndex_H *idx, FILE *f);
/* Reads g's index from f and takes it (idx, ids, flat) if it is an
 * inner-product IndexIDMap2 of vi->dims with `count` vectors and valid ids:
 * 0, or 1 with *why. */
int vindex_idx_read(vindex *vi, vgroup *g, FILE *f, int64_t count, const char **why);
/* The ids of g->idx, from its id map, sorted into g->ids; -1 when they
 * cannot be trusted (duplicate or non-positive). */
int vindex_ids_from_index(vgroup *g);
/* efSearch of a loaded non-flat group (a search-time knob). */
void vindex_set_ef_search(vindex *vi, vgroup *g);
/* Adds n vectors to g (training the index first when it needs it). */
int vindex_group_add(vindex *vi, vgroup *g, size_t n, const float *x, const int64_t *ids,
                     rag_err *err);
/* Removes sorted del (all present) from g, or marks g for rebuild when its
 * index cannot remove ids. */
int vindex_group_remove(vindex *vi, vgroup *g, const int64_t *del, size_t n, rag_err *err);
/* The k nearest of g to q (k <= g->n_ids): scores into dist, chunk ids into
 * lab (-1: none). */
int vindex_group_search(vindex *vi, vgroup *g, const float *q, size_t k, float *dist, int64_t *lab,
                        rag_err *err);

/* ---- checksum and manifest (vindex_manifest.c) --------------------------- */

typedef struct fhash {
    uint64_t acc[4];
    uint8_t buf[32];
    size_t nbuf;
    uint64_t total;
} fhash;

void vindex_hash_init(fhash *h);
void vindex_hash_update(fhash *h, const void *data, size_t n);
uint64_t vindex_hash_final(const fhash *h);

typedef struct mgroup {
    int64_t id, count, bytes;
    uint64_t hash;
    int flat;
} mgroup;

typedef struct manifest {
    int64_t model_id, seq;
    int dims;
    mgroup *g;
    size_t n_g;
} manifest;

void vindex_manifest_free(manifest *m);
/* DB.vectors/manifest (free with rag_free). */
char *vindex_manifest_path(const vindex *vi);
/* 1 and *m when the manifest reads and parses; 0 (with *why) when missing or
 * unusable; negative on an I/O error other than absence. */
int vindex_manifest_read(const vindex *vi, manifest *m, const char **why, rag_err *err);
const mgroup *vindex_manifest_group(const manifest *m, int64_t id);
/* The manifest of vi's groups as they are (free with rag_free). */
char *vindex_manifest_text(const vindex *vi);

/* ---- files (vindex_files.c) ---------------------------------------------- */

/* Loads the manifest and the group files for model m into vi (reset). 0:
 * loaded, groups whose file failed marked for rebuild (reasons appended to
 * why); 1: the manifest is unusable (reason appended; *first_use when
 * there is none at all), vi left empty. */
int vindex_load_files(vindex *vi, const store_model *m, rag_strv *why, int *first_use,
                      rag_err *err);
/* Writes the changed group files, then the manifest, under the lock file. */
int vindex_persist(vindex *vi, rag_err *err);

/* ---- SQLite, building and replay (vindex_build.c) ------------------------ */

typedef struct logpos {
    int64_t hi; /* the last sequence number ever given (sqlite_sequence) */
    int64_t lo; /* the first sequence still in the log; 0 when the log is empty */
} logpos;

int vindex_log_position(store *s, logpos *lp, rag_err *err);
/* Why the log cannot bring files at `seq` up to lp->hi, or NULL. */
const char *vindex_log_gap(int64_t seq, const logpos *lp);
/* store_model_active, with the dimensions checked. */
int vindex_active_model(store *s, store_model *m, rag_err *err);

/* The vectors of the active model (?1) with their chunks and documents. */
#define GROUP_VECTORS_SQL                                                                          \
    "FROM documents d JOIN chunks c ON c.document_id = d.id "                                      \
    "JOIN embeddings e ON e.chunk_id = c.id AND e.model_id = ?1 "

typedef struct prog {
    store_progress_fn fn;
    void *ctx;
    size_t done, total;
} prog;

int vindex_count_group(store *s, const vindex *vi, int64_t gid, int64_t *n, rag_err *err);
/* (Re)builds group gid from SQLite: count vectors (or -1: count them). */
int vindex_group_build(store *s, vindex *vi, int64_t gid, int64_t count, prog *pr, rag_err *err);
/* Every group from SQLite. */
int vindex_rebuild_all(store *s, vindex *vi, prog *pr, rag_err *err);
/* Replays the change log's (from, to]. live: searches may be using vi
 * (store_vindex_catch_up). Returns 1 (nothing changed) when the range names
 * too many chunks to be worth it: the caller rebuilds instead. */
int vindex_replay(store *s, vindex *vi, int64_t from, int64_t to, store_progress_fn fn, void *ctx,
                  int live, rag_err *err);

/* ---- sync (vindex_sync.c) ------------------------------------------------ */

/* Brings vi to model m at lp->hi, inside the caller's read transaction. */
int vindex_sync_memory(store *s, vindex *vi, const store_model *m, const logpos *lp,
                       store_progress_fn fn, void *ctx, rag_err *err);

#endif
