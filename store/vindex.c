/* store/vindex.c: vector search over FAISS indexes, one per ACL group. The
 * only file of the project that includes FAISS headers.
 *
 * Why one index per group. Debian's FAISS 1.7.3 C API cannot pass an id
 * filter to search, and filtering after the search returns too few results
 * (and leaks, through timing, what was filtered). So every ACL group has an
 * index of its own, a search asks only the groups the principal may see (the
 * same SQL rule as keyword search, store_visible_sql), and the per-group top
 * k lists are merged by score. Nothing invisible is ever ranked, and k hits
 * come back whenever k visible vectors exist.
 *
 * Index kinds. Vector ids are chunk ids (AUTOINCREMENT: never reused). A
 * group holds an IndexIDMap2 (ids = chunk ids, removal and reconstruction by
 * id) over IndexFlatIP: exact inner product. A group with more than
 * params.large_group vectors, at the time it is (re)built, gets
 * "IDMap2,<large_factory>" instead (default HNSW32,Flat: approximate,
 * efSearch = params.ef_search). HNSW cannot remove ids: a removal or an update
 * that touches such a group marks it, and the group is rebuilt from SQLite at
 * the end of the sync. A flat group that grows past large_group is rebuilt
 * the same way (it becomes a large one); a large group shrinks back to flat
 * at its next rebuild. Factories that need training (IVF...) are trained on
 * the first TRAIN_MAX vectors of the group.
 *
 * Files, beside the database: DB.vectors/
 *   group-<id>.faiss  the index of one group (faiss_write_index)
 *   manifest          text: format version, model id, dims, the last change
 *                     sequence the files hold, and per group: id, vectors,
 *                     file bytes, a 64-bit checksum of the file, kind
 *   lock              flock(2) held by whoever writes files
 * Writers (persist) hold the lock, write each changed group file to a
 * temporary name, fsync, rename, fsync the directory, then the manifest
 * (rag_file_write_atomic), then delete what no manifest names (old group
 * files, temporaries of killed writers). Readers take no lock: they read the
 * manifest, then each group file, and use a file only if its size and
 * checksum are the manifest's; the checksum is verified before FAISS parses
 * a byte, so FAISS only ever reads what we wrote. A file that fails (missing,
 * other bytes: a crash between a group file and the manifest, a concurrent
 * writer, damage) is rebuilt alone from SQLite; the manifest failing
 * (missing, truncated, unknown version, another model or dims) rebuilds all.
 *
 * Catching up (sync). The manifest's seq says which prefix of the change log
 * the files reflect. Every op in the log (add, del, acl) is replayed the same
 * way: remove the chunk id from whichever group holds it, then, if the chunk
 * exists and has a vector of the active model, add that vector to its
 * document's group, as SQLite says now. The result depends only on SQLite's
 * current state, so replaying an entry twice, or out of order, or after a
 * group file that already contains it, gives the same indexes: that is what
 * makes a crash anywhere harmless. Replay reads the distinct chunk ids of the
 * log range and works in slices of SLICE ids: one remove_ids per touched
 * group, one SQL query for the vectors, one add_with_ids per group. Each
 * group keeps a sorted mirror of its ids so that finding which groups hold
 * an id costs a binary search, not a FAISS scan. All rebuilds instead of the
 * replay when the log no longer holds the entries after seq (compacted:
 * min(seq) > seq + 1), or holds fewer than seq (another database), or the
 * range is too long to be worth replaying.
 *
 * Every sync reads SQLite inside one read transaction, so the indexes match
 * one snapshot. A search checks the active model and the log's last
 * sequence (two small queries) and syncs in memory (no files) when they
 * moved; it then fetches the hit fields in one query that applies the
 * visibility rule again. Inside a caller's write transaction a search sees
 * the uncommitted changes, and the memory is dropped afterwards (a rollback
 * would hand their sequence numbers out again); files are never written
 * inside one.
 *
 * Background mode (ragd: store_vindex_set_background). Replaying inline
 * makes every search that comes after a write wait for the whole replay,
 * under the write lock, whatever groups it searches. In this
 * mode a search never replays: it searches each group's index as it stands
 * and keeps a hit only if its own SQLite snapshot shows the chunk to the
 * caller now (fetch_hits and fill_docs join chunks and documents and apply
 * the visibility rule to the document's current group). So a chunk deleted
 * or moved to another group is never returned once the change is committed,
 * even while the index still holds it in the old group; the price is a
 * search that may return fewer than k hits until the catch-up. What is
 * added shows once store_vindex_catch_up has run: ragd runs it on its own
 * thread and connection, after each of its writes (an upload waits for it
 * before it is answered) and every 250 ms for other processes' writes. A
 * catch-up reads the log and the vectors holding no lock a search takes;
 * it changes a group under that group's own lock only (one remove_ids, or
 * one add of a slice: a flat add is a copy; a non-flat group is fed
 * LIVE_STEP vectors per hold); a group that needs a rebuild is built aside
 * and swapped in; a new group is built aside and inserted, and empty groups
 * dropped, under the structure lock, held for a pointer move. A search
 * therefore waits at most for one step of a group it searches itself, never
 * for another group's changes. What cannot be replayed (no indexes yet,
 * another model, a compacted log, a catch-up that failed half-way) is
 * loaded or rebuilt aside (as a first sync would) and swapped in whole;
 * only indexes of no or another model are still synced by a search.
 *
 * Locks. vi->lock (read: searches; write: changing the set of groups, seq
 * or the model, and syncs and configuration, which change groups without
 * their locks); each group's lock (read: a search using the group; write: a
 * catch-up changing it); vi->sync_mu, held by every writer (sync, catch-up,
 * configuration), so that one writes at a time and may read the structure
 * unlocked. Order: sync_mu, vi->lock, one group's lock. The rwlocks prefer
 * writers (a writer is not starved by a stream of searches; none takes one
 * twice).
 *
 * Threads. FAISS parallelises with OpenMP. A single-query search gains
 * little from it (the flat scan of one query runs on one thread anyway,
 * and HNSW's and IndexIDMap's loops are per query) but wakes a team of
 * spinning threads that steal cores from our own compute pool: measured at
 * 384 dims, a second thread bought 5% (HNSW, 20k) to 13% (flat, 100k) of
 * latency for twice the CPU time. So searches run with one OpenMP thread (set around the
 * call, for the calling thread only). Builds (HNSW insertion of many
 * vectors) keep OpenMP's default: bulk work at ingest time, where the
 * parallelism pays.
 *
 * Flat scans through BLAS. Debian's libfaiss.a is built for generic x86-64
 * (no AVX2), so its scalar loop scans 100k x 384 for one query in ~45 ms;
 * with FAISS's BLAS threshold at 1 the same scan is one OpenBLAS sgemm per
 * block (AVX2/AVX-512 chosen at run time): ~9 ms, same results. The
 * threshold is process-wide FAISS state, set once here (we are FAISS's only
 * user).
 *
 * Errors. FAISS reports failures through faiss_get_last_error(); faiss_fail()
 * is the one place that turns them into rag_err, naming the group's file. */
#include "store/store_int.h"
#include "base/file.h"
#include "base/log.h"
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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

#define MANIFEST_MAGIC "rag-vectors"
#define MANIFEST_VERSION 1
#define MANIFEST_MAX_BYTES (64u << 20)
#define MAX_GROUPS 1000000
#define MAX_DIMS 65536
#define MAX_FACTORY 200
#define SLICE 16384                /* chunk ids per replay step */
#define BATCH_BYTES (64u << 20)    /* vectors per add call while building */
#define TRAIN_MAX 131072           /* training set of factories that need one */
#define MAX_REPLAY_IDS (64u << 20) /* beyond this many, rebuilding is cheaper */
#define LIVE_STEP 256              /* vectors added to a live non-flat group at once */
#define SNIPPET_BYTES 240
#define IO_BUF (1u << 20)

/* ---- in-memory state ------------------------------------------------------ */

typedef struct vgroup {
    int64_t id;      /* acl_groups.id */
    FaissIndex *idx; /* IndexIDMap2 over the group's index; owned */
    int64_t *ids;    /* sorted chunk ids in idx (mirror of its id map) */
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
    char large_factory[MAX_FACTORY + 1];
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

void store_vindex_default_params(store_vindex_params *p)
{
    memset(p, 0, sizeof *p);
    p->large_group = 50000;
    p->large_factory = "HNSW32,Flat";
    p->ef_search = 64;
}

/* Empties the group (keeps its id and its lock). */
static void group_clear(vgroup *g)
{
    if (g->idx) faiss_Index_free(g->idx);
    rag_free(g->ids);
    g->idx = NULL;
    g->ids = NULL;
    g->n_ids = g->cap_ids = 0;
    g->flat = g->rebuild = g->dirty = 0;
    g->file_hash = 0;
    g->file_bytes = 0;
}

static vgroup *group_new(int64_t id)
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

static void group_free(vgroup *g)
{
    if (!g) return;
    group_clear(g);
    pthread_rwlock_destroy(&g->lock);
    rag_free(g);
}

static void vindex_reset(vindex *vi)
{
    for (size_t i = 0; i < vi->n_g; i++)
        group_free(vi->g[i]);
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

static void faiss_setup(void)
{
    faiss_set_distance_compute_blas_threshold(1);
}

static vindex *vindex_new(const char *db_path)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, faiss_setup);
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

static vindex *vindex_of(store *s)
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

static vgroup *group_find(vindex *vi, int64_t id)
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

/* The group, created empty (no index yet) when missing. The caller may
 * change the structure (see "Threads" above). */
static vgroup *group_get(vindex *vi, int64_t id)
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
    vi->g[lo] = group_new(id);
    return vi->g[lo];
}

/* Drops groups left without vectors (and without a pending rebuild). */
static void groups_compact(vindex *vi)
{
    size_t w = 0;
    for (size_t i = 0; i < vi->n_g; i++) {
        if (!vi->g[i]->rebuild && vi->g[i]->n_ids == 0) {
            group_free(vi->g[i]);
            continue;
        }
        vi->g[w++] = vi->g[i];
    }
    vi->n_g = w;
}

static char *group_path(const vindex *vi, int64_t id)
{
    return rag_xasprintf("%s/group-%lld.faiss", vi->dir, (long long)id);
}

/* ---- FAISS errors: the one place they become rag_err ----------------------- */

static int faiss_fail(rag_err *err, int code, const vindex *vi, int64_t group, const char *what)
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

/* ---- OpenMP: one thread around searches (see the top of the file) -------- */

static int omp_single_begin(void)
{
    int prev = omp_get_max_threads();
    omp_set_num_threads(1);
    return prev;
}

static void omp_single_end(int prev)
{
    omp_set_num_threads(prev > 0 ? prev : 1);
}

/* ---- sorted id mirrors ------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int bsearch_i64(const int64_t *v, size_t n, int64_t x)
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

/* Merges sorted `add` (none present yet) into the group's sorted ids. */
static void ids_merge(vgroup *g, const int64_t *add, size_t n)
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

/* Removes sorted `del` (all present) from the group's ids. */
static void ids_remove(vgroup *g, const int64_t *del, size_t n)
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

/* Which of sorted q[0..n) the group holds, in order, into out. Walks the
 * shorter list and searches the longer. */
static size_t ids_present(const vgroup *g, const int64_t *q, size_t n, int64_t *out)
{
    if (!n || !g->n_ids || q[0] > g->ids[g->n_ids - 1] || q[n - 1] < g->ids[0]) return 0;
    size_t m = 0;
    if (n <= g->n_ids) {
        for (size_t i = 0; i < n; i++)
            if (bsearch_i64(g->ids, g->n_ids, q[i])) out[m++] = q[i];
    } else {
        for (size_t i = 0; i < g->n_ids; i++)
            if (g->ids[i] >= q[0] && g->ids[i] <= q[n - 1] && bsearch_i64(q, n, g->ids[i]))
                out[m++] = g->ids[i];
    }
    return m;
}

/* The ids of a freshly read or built index, from its id map, sorted.
 * Duplicate or non-positive ids mean the index cannot be trusted. */
static int ids_from_index(vgroup *g)
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
    qsort(g->ids, n, sizeof *g->ids, cmp_i64);
    for (size_t i = 0; i < n; i++)
        if (g->ids[i] <= 0 || (i && g->ids[i] == g->ids[i - 1])) return -1;
    return 0;
}

/* ---- checksum ---------------------------------------------------------------- */
/* A 64-bit checksum in the style of xxHash64 (four lanes of multiply-rotate
 * over 32-byte stripes, then an avalanche); not compatible with XXH64. It
 * detects torn, truncated, swapped and damaged files; it is not meant to
 * resist someone who can write the files (they can write the database too). */
#define H1 0x9E3779B185EBCA87ULL
#define H2 0xC2B2AE3D27D4EB4FULL
#define H3 0x165667B19E3779F9ULL

typedef struct fhash {
    uint64_t acc[4];
    uint8_t buf[32];
    size_t nbuf;
    uint64_t total;
} fhash;

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t hround(uint64_t acc, uint64_t w)
{
    acc += w * H2;
    return rotl64(acc, 31) * H1;
}

static void fhash_init(fhash *h)
{
    memset(h, 0, sizeof *h);
    h->acc[0] = H1 + H2;
    h->acc[1] = H2;
    h->acc[2] = 0;
    h->acc[3] = (uint64_t)0 - H1;
}

static void fhash_stripe(fhash *h, const uint8_t *p)
{
    for (int l = 0; l < 4; l++) {
        uint64_t w;
        memcpy(&w, p + 8 * l, 8);
        h->acc[l] = hround(h->acc[l], w);
    }
}

static void fhash_update(fhash *h, const void *data, size_t n)
{
    const uint8_t *p = data;
    h->total += n;
    if (h->nbuf) {
        size_t take = 32 - h->nbuf < n ? 32 - h->nbuf : n;
        memcpy(h->buf + h->nbuf, p, take);
        h->nbuf += take;
        p += take;
        n -= take;
        if (h->nbuf < 32) return;
        fhash_stripe(h, h->buf);
        h->nbuf = 0;
    }
    for (; n >= 32; p += 32, n -= 32)
        fhash_stripe(h, p);
    memcpy(h->buf, p, n);
    h->nbuf = n;
}

static uint64_t fhash_final(const fhash *h)
{
    uint64_t x =
        rotl64(h->acc[0], 1) + rotl64(h->acc[1], 7) + rotl64(h->acc[2], 12) + rotl64(h->acc[3], 18);
    x ^= h->total * H1;
    for (size_t i = 0; i < h->nbuf; i++)
        x = rotl64(x ^ (h->buf[i] * H3), 11) * H1;
    x ^= x >> 33;
    x *= H2;
    x ^= x >> 29;
    x *= H3;
    x ^= x >> 32;
    return x;
}

/* ---- manifest ----------------------------------------------------------------- */

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

static void manifest_free(manifest *m)
{
    rag_free(m->g);
    memset(m, 0, sizeof *m);
}

static int parse_i64(const char **p, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(*p, &end, 10);
    if (end == *p || errno || v < 0 || (*end != ' ' && *end != '\n')) return -1;
    *out = v;
    *p = end + (*end == ' ');
    return 0;
}

/* Line "<key> <int>\n" at *p. */
static int parse_kv(const char **p, const char *key, int64_t *out)
{
    size_t kl = strlen(key);
    if (strncmp(*p, key, kl) || (*p)[kl] != ' ') return -1;
    *p += kl + 1;
    if (parse_i64(p, out) || **p != '\n') return -1;
    (*p)++;
    return 0;
}

/* Parses the manifest text; -1 (with *why) when it is not a whole manifest
 * of this format. The file is untrusted: every number is bounded. */
static int manifest_parse(const char *text, manifest *m, const char **why)
{
    memset(m, 0, sizeof *m);
    const char *p = text;
    int64_t version, dims, n;
    size_t ml = strlen(MANIFEST_MAGIC);
    *why = "not a manifest of this format";
    if (strncmp(p, MANIFEST_MAGIC " ", ml + 1)) return -1;
    p += ml + 1;
    if (parse_i64(&p, &version) || *p != '\n') return -1;
    p++;
    if (version != MANIFEST_VERSION) {
        *why = "manifest of another format version";
        return -1;
    }
    *why = "truncated or damaged manifest";
    if (parse_kv(&p, "model", &m->model_id) || parse_kv(&p, "dims", &dims) ||
        parse_kv(&p, "seq", &m->seq) || parse_kv(&p, "groups", &n))
        return -1;
    if (dims < 1 || dims > MAX_DIMS || n > MAX_GROUPS) return -1;
    m->dims = (int)dims;
    m->g = rag_xcalloc(n ? (size_t)n : 1, sizeof *m->g);
    for (int64_t i = 0; i < n; i++) {
        mgroup *g = &m->g[i];
        if (strncmp(p, "group ", 6)) goto bad;
        p += 6;
        if (parse_i64(&p, &g->id) || parse_i64(&p, &g->count) || parse_i64(&p, &g->bytes)) goto bad;
        char *end;
        errno = 0;
        g->hash = strtoull(p, &end, 16);
        if (end - p != 16 || errno || *end != ' ') goto bad;
        p = end + 1;
        if (!strncmp(p, "flat\n", 5))
            g->flat = 1, p += 5;
        else if (!strncmp(p, "large\n", 6))
            g->flat = 0, p += 6;
        else
            goto bad;
        if (g->id <= 0 || (i && g->id <= m->g[i - 1].id)) goto bad; /* sorted, unique */
        m->n_g++;
    }
    if (strcmp(p, "end\n")) goto bad;
    return 0;
bad:
    manifest_free(m);
    return -1;
}

static char *manifest_path(const vindex *vi)
{
    return rag_xasprintf("%s/manifest", vi->dir);
}

/* 1 and *m when the manifest reads and parses; 0 (with *why) when missing or
 * unusable; negative on an I/O error other than absence. */
static int manifest_read(const vindex *vi, manifest *m, const char **why, rag_err *err)
{
    char *path = manifest_path(vi), *text = NULL;
    size_t len = 0;
    rag_err e = {0};
    int rc = rag_file_read(path, MANIFEST_MAX_BYTES, &text, &len, &e);
    rag_free(path);
    if (rc) {
        if (e.sys_errno == ENOENT || e.sys_errno == ENOTDIR) {
            *why = "no manifest";
            return 0;
        }
        if (rc == RAG_ERR_LIMIT || rc == RAG_ERR_INVALID) {
            *why = "manifest too large or not a file";
            return 0;
        }
        if (err) *err = e;
        return rc;
    }
    rc = strlen(text) == len && manifest_parse(text, m, why) == 0;
    rag_free(text);
    return rc;
}

static const mgroup *manifest_group(const manifest *m, int64_t id)
{
    size_t lo = 0, hi = m->n_g;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->g[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->n_g && m->g[lo].id == id ? &m->g[lo] : NULL;
}

static char *manifest_text(const vindex *vi)
{
    rag_buf b = {0};
    rag_buf_printf(&b, "%s %d\nmodel %lld\ndims %d\nseq %lld\ngroups %zu\n", MANIFEST_MAGIC,
                   MANIFEST_VERSION, (long long)vi->model_id, vi->dims, (long long)vi->seq,
                   vi->n_g);
    for (size_t i = 0; i < vi->n_g; i++) {
        const vgroup *g = vi->g[i];
        rag_buf_printf(&b, "group %lld %zu %lld %016" PRIx64 " %s\n", (long long)g->id, g->n_ids,
                       (long long)g->file_bytes, g->file_hash, g->flat ? "flat" : "large");
    }
    rag_buf_puts(&b, "end\n");
    return rag_buf_steal(&b);
}

/* ---- group files ------------------------------------------------------------------ */

/* Writes go through a stdio cookie so that FAISS's writer feeds the
 * checksum and the byte count on the way to the file descriptor. */
typedef struct wsink {
    int fd;
    int sys_errno;
    fhash h;
    int64_t bytes;
} wsink;

static ssize_t sink_write(void *cookie, const char *buf, size_t n)
{
    wsink *w = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(w->fd, buf + done, n - done);
        if (r < 0) {
            if (errno == EINTR) continue;
            w->sys_errno = errno;
            return 0; /* stdio reports the stream as failed, FAISS throws */
        }
        done += (size_t)r;
    }
    fhash_update(&w->h, buf, n);
    w->bytes += (int64_t)n;
    return (ssize_t)n;
}

/* group-<id>.faiss: temporary file, fsync, rename (base/file.h). The
 * caller fsyncs the directory once after all groups. */
static int group_write(vindex *vi, vgroup *g, rag_err *err)
{
    char *path = group_path(vi, g->id);
    char *tmp;
    int rc = 0;
    int fd = rag_file_tmp_open(path, &tmp, err);
    if (fd < 0) {
        rc = RAG_ERR_IO;
        goto out;
    }
    wsink w = {.fd = fd};
    fhash_init(&w.h);
    cookie_io_functions_t io = {.write = sink_write};
    FILE *f = fopencookie(&w, "w", io);
    if (!f) {
        rc = rag_err_sys(err, errno, "%s", tmp);
        rag_file_tmp_discard(fd, tmp);
        goto out;
    }
    setvbuf(f, NULL, _IOFBF, IO_BUF);
    int frc = faiss_write_index(g->idx, f);
    int crc = fclose(f); /* flushes; the descriptor stays ours */
    if (frc)
        rc = faiss_fail(err, w.sys_errno ? RAG_ERR_IO : RAG_ERR_INVALID, vi, g->id, "write");
    else if (crc || w.sys_errno)
        rc = rag_err_sys(err, w.sys_errno ? w.sys_errno : EIO, "%s", tmp);
    if (rc) {
        rag_file_tmp_discard(fd, tmp);
        goto out;
    }
    rc = rag_file_tmp_commit(fd, tmp, path, err);
    if (rc) goto out;
    g->file_hash = fhash_final(&w.h);
    g->file_bytes = w.bytes;
    g->dirty = 0;
out:
    rag_free(tmp);
    rag_free(path);
    return rc;
}

/* Reads group-<id>.faiss when its size and checksum are the manifest's and
 * it is an inner-product IndexIDMap2 of dims with mg->count vectors. 0 and
 * g->idx filled, or 1 with *why when the file cannot be used. */
static int group_read(vindex *vi, vgroup *g, const mgroup *mg, const char **why)
{
    char *path = group_path(vi, g->id);
    int rc = 1;
    FaissIndex *idx = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    rag_free(path);
    if (fd < 0) {
        *why = errno == ENOENT ? "file missing" : "file unreadable";
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != mg->bytes) {
        *why = "file size differs from the manifest";
        close(fd);
        return 1;
    }
    /* Checksum first, on the same descriptor FAISS will read: FAISS never
     * parses bytes we did not write. */
    fhash h;
    fhash_init(&h);
    char *buf = rag_xmalloc(IO_BUF);
    int64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, IO_BUF);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r < 0) total = -1;
            break;
        }
        fhash_update(&h, buf, (size_t)r);
        total += r;
    }
    rag_free(buf);
    if (total != mg->bytes || fhash_final(&h) != mg->hash) {
        *why = "checksum differs from the manifest (damaged, or written after it)";
        close(fd);
        return 1;
    }
    FILE *f = lseek(fd, 0, SEEK_SET) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        *why = "file unreadable";
        close(fd);
        return 1;
    }
    if (faiss_read_index(f, 0, &idx) || !idx) {
        *why = "FAISS cannot read it";
        goto out;
    }
    if (!faiss_IndexIDMap2_cast(idx) || faiss_Index_d(idx) != vi->dims ||
        faiss_Index_metric_type(idx) != METRIC_INNER_PRODUCT ||
        faiss_Index_ntotal(idx) != mg->count || !faiss_Index_is_trained(idx)) {
        *why = "index of another shape than the manifest says";
        goto out;
    }
    g->idx = idx;
    idx = NULL;
    if (ids_from_index(g)) {
        *why = "index with invalid ids";
        faiss_Index_free(g->idx);
        g->idx = NULL;
        goto out;
    }
    FaissIndex *sub = faiss_IndexIDMap2_sub_index(faiss_IndexIDMap2_cast(g->idx));
    g->flat = sub && faiss_IndexFlat_cast(sub) != NULL;
    g->file_hash = mg->hash;
    g->file_bytes = mg->bytes;
    g->dirty = 0;
    rc = 0;
out:
    if (idx) faiss_Index_free(idx);
    fclose(f);
    return rc;
}

static void set_ef_search(vindex *vi, vgroup *g)
{
    if (!g->idx || g->flat) return;
    FaissParameterSpace *ps = NULL;
    if (faiss_ParameterSpace_new(&ps)) return;
    /* Fails for large factories without efSearch (IVF...): that is fine. */
    faiss_ParameterSpace_set_index_parameter(ps, g->idx, "efSearch", vi->ef_search);
    faiss_ParameterSpace_free(ps);
}

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
        set_ef_search(vi, vi->g[i]);
    pthread_rwlock_unlock(&vi->lock);
    pthread_mutex_unlock(&vi->sync_mu);
}

/* ---- reading SQLite ---------------------------------------------------------------- */

/* Starts a read transaction unless one is open: every sync reads one
 * snapshot. Returns 1 when it started one (end it with read_end). */
static int read_begin(store *s, rag_err *err)
{
    if (!sqlite3_get_autocommit(s->db)) return 0;
    int rc = store_exec(s, "BEGIN", err);
    return rc ? rc : 1;
}

static void read_end(store *s, int began)
{
    if (began == 1) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

typedef struct logpos {
    int64_t hi; /* the last sequence number ever given (sqlite_sequence) */
    int64_t lo; /* the first sequence still in the log; 0 when the log is empty */
} logpos;

static int log_position(store *s, logpos *lp, rag_err *err)
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
static const char *log_gap(int64_t seq, const logpos *lp)
{
    if (seq > lp->hi) return "the index files are newer than the change log (another database?)";
    if (seq < lp->hi && (lp->lo == 0 || lp->lo > seq + 1))
        return "the change log no longer holds the changes after the index files";
    return NULL;
}

static int active_model(store *s, store_model *m, rag_err *err)
{
    int rc = store_model_active(s, m, err);
    if (rc == 1 && (m->dims < 1 || m->dims > MAX_DIMS))
        return rag_err_set(err, RAG_ERR_CORRUPT, "%s: embedding model %lld has %d dimensions",
                           s->path, (long long)m->id, m->dims);
    return rc;
}

#define GROUP_VECTORS_SQL                                                                          \
    "FROM documents d JOIN chunks c ON c.document_id = d.id "                                      \
    "JOIN embeddings e ON e.chunk_id = c.id AND e.model_id = ?1 "

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

/* ---- building a group from SQLite ---------------------------------------------------- */

typedef struct prog {
    store_progress_fn fn;
    void *ctx;
    size_t done, total;
} prog;

static void progress_add(prog *pr, size_t n)
{
    pr->done += n;
    if (pr->fn) pr->fn(pr->ctx, pr->done, pr->total);
}

static int new_index(vindex *vi, int64_t gid, int large, FaissIndex **out, rag_err *err)
{
    char factory[MAX_FACTORY + 16];
    if (!large)
        snprintf(factory, sizeof factory, "IDMap2,Flat");
    else if (!strncmp(vi->large_factory, "IDMap2,", 7))
        snprintf(factory, sizeof factory, "%s", vi->large_factory);
    else
        snprintf(factory, sizeof factory, "IDMap2,%s", vi->large_factory);
    *out = NULL;
    if (faiss_index_factory(out, vi->dims, factory, METRIC_INNER_PRODUCT) || !*out) {
        char what[MAX_FACTORY + 40];
        snprintf(what, sizeof what, "index factory \"%s\"", factory);
        return faiss_fail(err, RAG_ERR_INVALID, vi, gid, what);
    }
    if (!faiss_IndexIDMap2_cast(*out)) {
        faiss_Index_free(*out);
        *out = NULL;
        return rag_err_set(err, RAG_ERR_INVALID, "%s: index factory \"%s\" does not give an IDMap2",
                           vi->dir, factory);
    }
    return 0;
}

static int count_group(store *s, const vindex *vi, int64_t gid, int64_t *n, rag_err *err)
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

int store_vindex_check_factory(store *s, const char *factory, rag_err *err)
{
    if (!factory || !*factory) return 0;
    if (strlen(factory) > MAX_FACTORY)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "index factory \"%.40s...\" is longer than %d characters", factory,
                           MAX_FACTORY);
    store_model m;
    int rc = active_model(s, &m, err);
    if (rc <= 0) return rc; /* no model yet: checked when there is one */
    vindex *vi = vindex_of(s);
    char full[MAX_FACTORY + 16];
    snprintf(full, sizeof full, "%s%s", strncmp(factory, "IDMap2,", 7) ? "IDMap2," : "", factory);
    FaissIndex *idx = NULL;
    if (faiss_index_factory(&idx, m.dims, full, METRIC_INNER_PRODUCT) || !idx) {
        char what[MAX_FACTORY + 80];
        snprintf(what, sizeof what, "index factory \"%s\" for %d dimensions", factory, m.dims);
        return faiss_fail(err, RAG_ERR_INVALID, vi, -1, what);
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
static int group_add(vindex *vi, vgroup *g, size_t n, const float *x, const int64_t *ids,
                     rag_err *err)
{
    if (!n) return 0;
    if (!faiss_Index_is_trained(g->idx) && faiss_Index_train(g->idx, (idx_t)n, x))
        return faiss_fail(err, RAG_ERR_INVALID, vi, g->id, "train");
    if (faiss_Index_add_with_ids(g->idx, (idx_t)n, x, (const idx_t *)ids))
        return faiss_fail(err, RAG_ERR_NOMEM, vi, g->id, "add vectors");
    g->dirty = 1;
    return 0;
}

/* (Re)builds group gid from SQLite: count vectors (or -1: count them). */
static int group_build(store *s, vindex *vi, int64_t gid, int64_t count, prog *pr, rag_err *err)
{
    int rc = count < 0 ? count_group(s, vi, gid, &count, err) : 0;
    if (rc) return rc;
    vgroup *g = group_get(vi, gid);
    group_clear(g);
    g->id = gid;
    g->dirty = 1;
    if (count == 0) return 0; /* dropped by groups_compact */
    int large = (uint64_t)count > (uint64_t)vi->large_group;
    rc = new_index(vi, gid, large, &g->idx, err);
    if (rc) return rc;
    g->flat =
        faiss_IndexFlat_cast(faiss_IndexIDMap2_sub_index(faiss_IndexIDMap2_cast(g->idx))) != NULL;
    set_ef_search(vi, g);
    /* Untrained factories get their first batch as the training set. */
    size_t per = BATCH_BYTES / ((size_t)vi->dims * sizeof(float));
    if (per < 1024) per = 1024;
    if (!faiss_Index_is_trained(g->idx)) per = per > TRAIN_MAX ? per : TRAIN_MAX;
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
                rc = group_add(vi, g, n, x, ids, err);
                if (pr) progress_add(pr, n);
                n = 0;
            }
        }
        if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "read vectors", err);
        if (!rc) rc = group_add(vi, g, n, x, ids, err);
        if (!rc && pr && n) progress_add(pr, n);
        sqlite3_finalize(st);
    }
    rag_free(x);
    rag_free(ids);
    g = group_find(vi, gid);
    if (!rc && ids_from_index(g))
        rc = rag_err_set(err, RAG_ERR_CORRUPT, "%s: group %lld: duplicate chunk ids", vi->dir,
                         (long long)gid);
    return rc;
}

/* Every group from SQLite. */
static int rebuild_all(store *s, vindex *vi, prog *pr, rag_err *err)
{
    for (size_t i = 0; i < vi->n_g; i++)
        group_free(vi->g[i]);
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
        rc = group_build(s, vi, gc[2 * i], gc[2 * i + 1], pr, err);
    rag_free(gc);
    groups_compact(vi);
    return rc;
}

/* ---- replaying the change log --------------------------------------------------------- */

static int remove_ids(vindex *vi, vgroup *g, const int64_t *del, size_t n, rag_err *err)
{
    if (!g->flat) {
        g->rebuild = 1; /* HNSW and the like cannot remove: rebuild at the end */
        return 0;
    }
    FaissIDSelectorBatch *sel = NULL;
    if (faiss_IDSelectorBatch_new(&sel, n, (const idx_t *)del))
        return faiss_fail(err, RAG_ERR_NOMEM, vi, g->id, "remove vectors");
    size_t removed = 0;
    int frc = faiss_Index_remove_ids(g->idx, (const FaissIDSelector *)sel, &removed);
    faiss_IDSelector_free((FaissIDSelector *)sel);
    if (frc) {
        g->rebuild = 1; /* an index that refuses removal is rebuilt instead */
        return 0;
    }
    ids_remove(g, del, n);
    g->dirty = 1;
    if (removed != n || (idx_t)g->n_ids != faiss_Index_ntotal(g->idx)) g->rebuild = 1;
    return 0;
}

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

/* Puts ng (not in vi yet) among vi's groups. */
static void group_insert(vindex *vi, vgroup *ng)
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

/* Adds n vectors (sorted ids, none present) to g, creating its index. */
static int group_add_ids(vindex *vi, vgroup *g, size_t n, const float *x, const int64_t *ids,
                         rag_err *err)
{
    int rc = 0;
    if (!g->idx) {
        rc = new_index(vi, g->id, 0, &g->idx, err);
        g->flat = 1;
    }
    if (!rc) rc = group_add(vi, g, n, x, ids, err);
    if (!rc) ids_merge(g, ids, n);
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
        size_t m = ids_present(g, ids, n, hit);
        if (!m) continue;
        if (live) pthread_rwlock_wrlock(&g->lock);
        rc = remove_ids(vi, g, hit, m, err);
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
        vgroup *g = live ? group_find(vi, pv[a].group) : group_get(vi, pv[a].group);
        if (!g) { /* live, a new group: built aside, then put in place */
            vgroup *ng = group_new(pv[a].group);
            rc = group_add_ids(vi, ng, b - a, gx, gid, err);
            if (rc) {
                group_free(ng);
                break;
            }
            pthread_rwlock_wrlock(&vi->lock);
            group_insert(vi, ng);
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
static int replay(store *s, vindex *vi, int64_t from, int64_t to, store_progress_fn fn, void *ctx,
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

/* ---- loading the files ------------------------------------------------------------------- */

/* Loads the manifest and the group files for model m into vi (reset). 0:
 * loaded, groups whose file failed marked for rebuild (reasons appended to
 * why); 1: the manifest is unusable (reason appended; *first_use when
 * there is none at all), vi left empty. */
static int load_files(vindex *vi, const store_model *m, rag_strv *why, int *first_use, rag_err *err)
{
    if (first_use) *first_use = 0;
    vindex_reset(vi);
    vi->model_id = m->id;
    vi->dims = m->dims;
    manifest mf;
    const char *reason = NULL;
    int rc = manifest_read(vi, &mf, &reason, err);
    if (rc < 0) return rc;
    if (rc == 0) {
        if (first_use) *first_use = !strcmp(reason, "no manifest");
        if (why) {
            char *w = rag_xasprintf("%s/manifest: %s", vi->dir, reason);
            rag_strv_push(why, w);
            rag_free(w);
        }
        return 1;
    }
    if (mf.model_id != m->id || mf.dims != m->dims) {
        if (why) {
            char *w =
                rag_xasprintf("%s/manifest: built for model %lld (%d dims), the database "
                              "uses model %lld (%d dims)",
                              vi->dir, (long long)mf.model_id, mf.dims, (long long)m->id, m->dims);
            rag_strv_push(why, w);
            rag_free(w);
        }
        manifest_free(&mf);
        return 1;
    }
    vi->seq = mf.seq;
    for (size_t i = 0; i < mf.n_g; i++) {
        vgroup *g = group_get(vi, mf.g[i].id);
        if (group_read(vi, g, &mf.g[i], &reason)) {
            g->rebuild = 1;
            if (why) {
                char *w =
                    rag_xasprintf("%s/group-%lld.faiss: %s", vi->dir, (long long)g->id, reason);
                rag_strv_push(why, w);
                rag_free(w);
            }
        } else {
            set_ef_search(vi, g);
        }
    }
    manifest_free(&mf);
    vi->loaded = 1;
    return 0;
}

/* ---- sync ---------------------------------------------------------------------------------- */

static void log_reasons(const rag_strv *why, int level)
{
    for (size_t i = 0; i < why->n; i++)
        rag_log(level, "vector index: %s: rebuilding from the database", why->v[i]);
}

/* Brings vi to model m at lp->hi, inside the caller's read transaction. */
static int sync_memory(store *s, vindex *vi, const store_model *m, const logpos *lp,
                       store_progress_fn fn, void *ctx, rag_err *err)
{
    int rc = 0, full = 0;
    rag_strv why = {0};
    if (!vi->loaded || vi->model_id != m->id || vi->dims != m->dims) {
        int first_use;
        rc = load_files(vi, m, &why, &first_use, err);
        if (rc < 0) goto out;
        full = rc == 1;
        rc = 0;
        if (first_use) { /* nothing written yet: building is expected */
            log_reasons(&why, RAG_LOG_INFO);
            rag_strv_free(&why);
        }
    }
    if (!full) {
        const char *gap = log_gap(vi->seq, lp);
        if (gap) {
            rag_strv_push(&why, gap);
            full = 1;
        }
    }
    log_reasons(&why, RAG_LOG_WARN);
    vi->model_id = m->id;
    vi->dims = m->dims;
    if (!full && vi->seq < lp->hi) {
        rc = replay(s, vi, vi->seq, lp->hi, fn, ctx, 0, err);
        if (rc == 1) full = 1, rc = 0;
    }
    if (rc) goto out;
    if (full) {
        prog pr = {fn, ctx, 0, 0};
        rc = rebuild_all(s, vi, &pr, err);
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
            rc = count_group(s, vi, todo[i], &counts[i], err);
            pr.total += (size_t)counts[i];
        }
        for (size_t i = 0; !rc && i < n; i++)
            rc = group_build(s, vi, todo[i], counts[i], &pr, err);
        rag_free(todo);
        rag_free(counts);
        groups_compact(vi);
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

/* ---- persist ------------------------------------------------------------------------------- */

/* Deletes files no manifest names: group files of groups that are gone and
 * temporaries of writers that were killed. Called under the lock. */
static void remove_stale(vindex *vi)
{
    DIR *d = opendir(vi->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        int stale = strstr(nm, ".tmp.") != NULL;
        long long id;
        char tail[16];
        if (!stale && sscanf(nm, "group-%lld.%15s", &id, tail) == 2 && !strcmp(tail, "faiss"))
            stale = group_find(vi, id) == NULL;
        if (stale) {
            char *p = rag_xasprintf("%s/%s", vi->dir, nm);
            unlink(p);
            rag_free(p);
        }
    }
    closedir(d);
}

static int persist(vindex *vi, rag_err *err)
{
    int rc = rag_mkdir_p(vi->dir, err);
    if (rc) return rc;
    char *lock_path = rag_xasprintf("%s/lock", vi->dir);
    int lfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        rc = rag_err_sys(err, errno, "%s", lock_path);
        rag_free(lock_path);
        return rc;
    }
    while (flock(lfd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            rc = rag_err_sys(err, errno, "%s: lock", lock_path);
            close(lfd);
            rag_free(lock_path);
            return rc;
        }
    }
    /* What is on disk now (another process may have written since we read):
     * a clean group is rewritten unless the manifest there names its bytes. */
    manifest on = {0};
    const char *why;
    int have = manifest_read(vi, &on, &why, NULL) == 1 && on.model_id == vi->model_id &&
               on.dims == vi->dims;
    int wrote = 0;
    for (size_t i = 0; !rc && i < vi->n_g; i++) {
        vgroup *g = vi->g[i];
        const mgroup *mg = have ? manifest_group(&on, g->id) : NULL;
        if (!g->dirty && mg && mg->hash == g->file_hash && mg->bytes == g->file_bytes) {
            char *p = group_path(vi, g->id);
            struct stat st;
            int same = stat(p, &st) == 0 && st.st_size == g->file_bytes;
            rag_free(p);
            if (same) continue;
        }
        rc = group_write(vi, g, err);
        wrote = 1;
    }
    if (!rc && wrote) rc = rag_fsync_dir(vi->dir, err);
    if (!rc) { /* the manifest last, unless it already says exactly this */
        char *text = manifest_text(vi), *mp = manifest_path(vi), *old = NULL;
        size_t old_len = 0;
        int same = !wrote && rag_file_read(mp, MANIFEST_MAX_BYTES, &old, &old_len, NULL) == 0 &&
                   old_len == strlen(text) && !memcmp(old, text, old_len);
        if (!same) rc = rag_file_write_atomic(mp, text, strlen(text), err);
        rag_free(old);
        rag_free(text);
        rag_free(mp);
    }
    if (!rc) remove_stale(vi);
    manifest_free(&on);
    flock(lfd, LOCK_UN);
    close(lfd);
    rag_free(lock_path);
    return rc;
}

/* ---- public: sync, rebuild ------------------------------------------------------------------ */

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
    int began = read_begin(s, err);
    if (began < 0) return began;
    store_model m;
    int rc = active_model(s, &m, err);
    if (rc <= 0) {
        vindex_reset(vi); /* no model: nothing to index */
        read_end(s, began);
        return rc;
    }
    logpos lp;
    rc = log_position(s, &lp, err);
    if (!rc && force_rebuild) {
        vindex_reset(vi);
        vi->model_id = m.id;
        vi->dims = m.dims;
        prog pr = {fn, ctx, 0, 0};
        rc = rebuild_all(s, vi, &pr, err);
        if (!rc) {
            vi->seq = lp.hi;
            vi->loaded = 1;
        } else {
            vindex_reset(vi);
        }
    } else if (!rc && (!vi->loaded || vi->model_id != m.id || vi->seq != lp.hi)) {
        rc = sync_memory(s, vi, &m, &lp, fn, ctx, err);
    }
    read_end(s, began);
    if (!rc && persist_files) {
        if (force_rebuild)
            for (size_t i = 0; i < vi->n_g; i++)
                vi->g[i]->dirty = 1;
        rc = persist(vi, err);
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

/* ---- background catch-up -------------------------------------------------------------- */

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
            rc = group_build(s, t, g->id, -1, NULL, err);
            vgroup *ng = group_find(t, g->id);
            if (!rc && ng) {
                FaissIndex *old_idx = g->idx;
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
        groups_compact(vi);
        pthread_rwlock_unlock(&vi->lock);
    }
    return rc;
}

/* Loads or rebuilds everything aside (files, replay, rebuilds: as a first
 * sync would), then puts the result in place under vi->lock. */
static int live_full(store *s, vindex *vi, const store_model *m, const logpos *lp, rag_err *err)
{
    vindex *t = vindex_like(s, vi);
    int rc = sync_memory(s, t, m, lp, NULL, NULL, err);
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
    int began = read_begin(s, err);
    if (began < 0) {
        pthread_mutex_unlock(&vi->sync_mu);
        return began;
    }
    store_model m;
    int rc = active_model(s, &m, err);
    if (rc == 0 && (vi->loaded || vi->n_g)) { /* no model any more: nothing to index */
        pthread_rwlock_wrlock(&vi->lock);
        vindex_reset(vi);
        pthread_rwlock_unlock(&vi->lock);
    }
    logpos lp;
    if (rc > 0)
        rc = log_position(s, &lp, err);
    else if (rc == 0)
        rc = 1; /* done */
    if (rc == 0) {
        int full = vi->need_full || !vi->loaded || vi->model_id != m.id || vi->dims != m.dims ||
                   log_gap(vi->seq, &lp) != NULL;
        if (!full && vi->seq < lp.hi) {
            rc = replay(s, vi, vi->seq, lp.hi, NULL, NULL, 1, err);
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
    read_end(s, began);
    pthread_mutex_unlock(&vi->sync_mu);
    return rc < 0 ? rc : 0;
}

/* ---- check --------------------------------------------------------------------------------- */

static void problem(rag_strv *problems, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(rag_strv *problems, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    rag_strv_push(problems, buf);
}

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
        problem(
            problems,
            "%s/group-%lld.faiss: the index has %zu vectors, the database %zu (%zu missing from "
            "the index, %zu not in the database)",
            vi->dir, (long long)gid, n_idx, n_db, missing, extra);
    return rc;
}

int store_vindex_check(store *s, rag_strv *problems, rag_err *err)
{
    int began = read_begin(s, err);
    if (began < 0) return began;
    store_model m;
    int rc = active_model(s, &m, err);
    if (rc <= 0) {
        read_end(s, began);
        return rc; /* no model: no vector index to check */
    }
    logpos lp;
    rc = log_position(s, &lp, err);
    vindex *cur = vindex_of(s);
    vindex *t = vindex_new(s->path);
    pthread_rwlock_rdlock(&cur->lock);
    t->large_group = cur->large_group;
    snprintf(t->large_factory, sizeof t->large_factory, "%s", cur->large_factory);
    t->ef_search = cur->ef_search;
    pthread_rwlock_unlock(&cur->lock);
    rag_strv why = {0};
    if (!rc) rc = load_files(t, &m, &why, NULL, err);
    if (rc < 0) goto out;
    for (size_t i = 0; i < why.n; i++)
        rag_strv_push(problems, why.v[i]);
    if (rc == 1) { /* no usable manifest: nothing more to compare */
        rc = 0;
        goto out;
    }
    const char *gap = log_gap(t->seq, &lp);
    if (gap) {
        problem(problems, "%s/manifest: sequence %lld, change log up to %lld: %s", t->dir,
                (long long)t->seq, (long long)lp.hi, gap);
        goto out;
    }
    /* Files that are merely behind are normal (readers do not write them):
     * bring the copy up to date the way a sync would, then compare. Groups
     * whose file failed (reported above) or that cannot take a removal stay
     * marked for rebuild and are not compared. */
    if (t->seq < lp.hi) {
        rc = replay(s, t, t->seq, lp.hi, NULL, NULL, 0, err);
        if (rc == 1) {
            rc = 0;
            problem(problems, "%s/manifest: too far behind the change log to replay", t->dir);
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
        const vgroup *g = group_find(t, gids[i]);
        if (g && g->rebuild) continue; /* its file failed or cannot take a removal */
        rc = compare_group(s, t, gids[i], g, problems, err);
    }
    for (size_t i = 0; !rc && i < t->n_g; i++) {
        const vgroup *g = t->g[i];
        if (g->rebuild || !g->n_ids || bsearch_i64(gids, n, g->id)) continue;
        problem(problems, "%s/group-%lld.faiss: holds %zu vectors of a group without any", t->dir,
                (long long)g->id, g->n_ids);
    }
    rag_free(gids);
out:
    rag_strv_free(&why);
    store_vindex_free(t);
    read_end(s, began);
    return rc < 0 ? rc : 0;
}

/* ---- search --------------------------------------------------------------------------------- */

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
        if (group_find(vi, (*out)[i])) (*out)[k++] = (*out)[i];
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
    idx_t *lab = NULL;
    size_t buf = 0;
    int rc = 0;
    int prev = omp_single_begin();
    for (size_t i = 0; !rc && i < n_g; i++) {
        vgroup *g = group_find(vi, gids[i]);
        pthread_rwlock_rdlock(&g->lock); /* a catch-up of this group waits, not of others */
        size_t k = g->idx ? (kk < g->n_ids ? kk : g->n_ids) : 0;
        if (k > buf) {
            dist = rag_xrealloc(dist, k * sizeof *dist);
            lab = rag_xrealloc(lab, k * sizeof *lab);
            buf = k;
        }
        if (k && faiss_Index_search(g->idx, 1, q, (idx_t)k, dist, lab))
            rc = faiss_fail(err, RAG_ERR_INVALID, vi, g->id, "search");
        pthread_rwlock_unlock(&g->lock);
        if (rc || !k) continue;
        c = rag_xgrow(c, &cap, n + k, sizeof *c);
        for (size_t j = 0; j < k; j++)
            if (lab[j] >= 0) c[n++] = (cand){dist[j], lab[j], 0};
    }
    omp_single_end(prev);
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
    int began = read_begin(s, err);
    if (began < 0) return began;
    store_model m;
    int rc = active_model(s, &m, err);
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
        rc = log_position(s, &lp, err);
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
        rc = log_position(s, &lp, err);
        if (rc) goto out;
        pthread_mutex_lock(&vi->sync_mu);
        pthread_rwlock_wrlock(&vi->lock);
        locked = 1;
        if (vi->shared && began == 1 && vi->loaded && vi->model_id == m.id && vi->seq > lp.hi &&
            resnapshots < 3) {
            pthread_rwlock_unlock(&vi->lock);
            pthread_mutex_unlock(&vi->sync_mu);
            locked = 0;
            read_end(s, began);
            resnapshots++;
            goto retry;
        }
        if (!vi->loaded || vi->model_id != m.id || vi->dims != m.dims ||
            (!vi->background && vi->seq != lp.hi)) {
            rc = sync_memory(s, vi, &m, &lp, NULL, NULL, err);
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
        vgroup *g = group_find(vi, gids[i]);
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
    read_end(s, began);
    return rc;
}
