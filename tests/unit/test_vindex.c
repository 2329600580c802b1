/* Vector search (store/vindex.c): role-scoped search is exact (nothing
 * invisible, k hits whenever k visible vectors exist, the exact top k); the
 * indexes follow the change log (adds, deletes, ACL moves, replaced
 * documents, re-put vectors) and survive reopening without a rebuild; damaged,
 * missing, foreign or half-written files are rebuilt, also after a writer is
 * killed mid-write; large groups use HNSW with good recall and still forget
 * deleted chunks; store_vindex_check notices tampering; connections sharing
 * one set of indexes search concurrently while another process writes; in
 * the background mode searches never replay, yet never return a deleted or
 * moved chunk, and store_vindex_catch_up brings the changes in while
 * searches go on. */
#include "store/store.h"
#include "base/mem.h"
#include "base/time.h"
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define N_LABELS 20
#define DIMS 32

/* ---- helpers ------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double rnd_unit(void) /* (0, 1) */
{
    return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
}

static void rnd_vector(float *v, int dims)
{
    double n = 0;
    for (int i = 0; i < dims; i += 2) { /* Box-Muller: uniform on the sphere */
        double r = sqrt(-2 * log(rnd_unit())), t = 2 * M_PI * rnd_unit();
        v[i] = (float)(r * cos(t));
        if (i + 1 < dims) v[i + 1] = (float)(r * sin(t));
    }
    for (int i = 0; i < dims; i++)
        n += (double)v[i] * v[i];
    n = sqrt(n);
    for (int i = 0; i < dims; i++)
        v[i] = (float)(v[i] / n);
}

static double dot(const float *a, const float *b, int dims)
{
    double s = 0;
    for (int i = 0; i < dims; i++)
        s += (double)a[i] * b[i];
    return s;
}

static char *db_path(const char *name)
{
    return rag_xasprintf("%s/%s.db", test_tmpdir(), name);
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = rag_xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        rag_free(p);
    }
    closedir(d);
    rmdir(dir);
}

static store *open_store(const char *path)
{
    store *s = NULL;
    rag_err err = {0};
    if (store_open(path, NULL, &s, &err) != 0) {
        printf("    open %s: %s\n", path, err.msg);
        exit(2);
    }
    return s;
}

static store *open_fresh(const char *name)
{
    char *path = db_path(name), *vec = rag_xasprintf("%s.vectors", path);
    unlink(path);
    rm_rf(vec);
    store *s = open_store(path);
    rag_free(path);
    rag_free(vec);
    return s;
}

static int64_t group_of(store *s, const char *csv)
{
    rag_strv labels = {0};
    rag_err err = {0};
    if (*csv) CHECK_INT(rag_labels_parse(csv, "test", &labels, &err), 0);
    int64_t g = -1;
    CHECK_INT(store_acl_group(s, &labels, &g, &err), 0);
    rag_strv_free(&labels);
    return g;
}

static int64_t make_model(store *s, const char *sha, int dims)
{
    store_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "test-%s", sha);
    snprintf(m.file_sha256, sizeof m.file_sha256, "%s", sha);
    m.dims = dims;
    snprintf(m.pooling, sizeof m.pooling, "mean");
    m.normalized = 1;
    rag_err err = {0};
    CHECK_INT(store_model_ensure(s, &m, &err), 0);
    return m.id;
}

static int collect_chunk_id(void *ctx, const store_chunk *c)
{
    int64_t *ids = ctx;
    ids[c->ordinal] = c->id;
    return 0;
}

/* Inserts (or replaces) document uri in group with n chunks, then puts the
 * chunks' vectors (n x dims) for model; chunk ids into ids_out. Call inside a
 * transaction. */
static int64_t put_doc(store *s, const char *uri, int64_t group, size_t n, const float *vecs,
                       int64_t model, int dims, int64_t *ids_out)
{
    store_chunk_in *ch = rag_xcalloc(n, sizeof *ch);
    char text[64];
    for (size_t i = 0; i < n; i++) {
        ch[i].text = "chunk text about something";
        ch[i].len = strlen(ch[i].text);
        ch[i].n_tokens = 4;
        ch[i].byte_start = i * 100;
        ch[i].byte_end = i * 100 + ch[i].len;
        ch[i].heading_path = "";
    }
    snprintf(text, sizeof text, "%016llx", (unsigned long long)rnd());
    store_doc_in d = {.uri = uri,
                      .title = uri,
                      .mime = "text/plain",
                      .content_hash = text,
                      .mtime_ns = 1,
                      .size = 1,
                      .acl_group = group};
    rag_err err = {0};
    int64_t id = 0;
    int rc = store_doc_replace(s, &d, ch, n, 0, 0, &id, &err);
    if (rc) printf("    put_doc %s: %s\n", uri, err.msg);
    CHECK_INT(rc, 0);
    CHECK_INT(store_chunk_each(s, id, collect_chunk_id, ids_out, &err), 0);
    for (size_t i = 0; vecs && i < n; i++)
        CHECK_INT(store_vector_put(s, ids_out[i], model, vecs + i * (size_t)dims, dims, &err), 0);
    rag_free(ch);
    return id;
}

static int vsearch(store *s, const float *q, int dims, const rag_principal *who, size_t k,
                   int per_doc, store_hits *h)
{
    store_search_params p;
    store_search_default_params(&p);
    p.k = k;
    p.per_document = per_doc;
    rag_err err = {0};
    int rc = store_search_vector(s, q, dims, who, &p, h, &err);
    if (rc) printf("    vector search: %s\n", err.msg);
    return rc;
}

typedef struct progress_log {
    int calls;
    size_t done, total;
} progress_log;

static void on_progress(void *ctx, size_t done, size_t total)
{
    progress_log *l = ctx;
    l->calls++;
    l->done = done;
    l->total = total;
}

static int vsync(store *s, int persist, progress_log *pl)
{
    rag_err err = {0};
    if (pl) memset(pl, 0, sizeof *pl);
    int rc = store_vindex_sync(s, persist, pl ? on_progress : NULL, pl, &err);
    if (rc) printf("    sync: %s\n", err.msg);
    return rc;
}

static int64_t log_max_seq(const char *path)
{
    sqlite3 *db;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT max(seq) FROM changes", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return v;
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The manifest's seq, and the count and kind of group gid (when asked). */
static int64_t manifest_seq(const char *db, int64_t gid, int64_t *count, char kind[8])
{
    char *p = rag_xasprintf("%s.vectors/manifest", db);
    FILE *f = fopen(p, "r");
    rag_free(p);
    if (!f) return -1;
    char line[256];
    int64_t seq = -1;
    while (fgets(line, sizeof line, f)) {
        long long a, b, c;
        char h[32], k[16];
        if (sscanf(line, "seq %lld", &a) == 1)
            seq = a;
        else if (sscanf(line, "group %lld %lld %lld %31s %15s", &a, &b, &c, h, k) == 5 &&
                 a == gid) {
            if (count) *count = b;
            if (kind) snprintf(kind, 8, "%.7s", k);
        }
    }
    fclose(f);
    return seq;
}

/* Rewrites the manifest's seq (as if the files had been written after it). */
static void set_manifest_seq(const char *db, int64_t seq)
{
    char *p = rag_xasprintf("%s.vectors/manifest", db);
    FILE *f = fopen(p, "r");
    rag_buf out = {0};
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "seq ", 4))
            rag_buf_printf(&out, "seq %lld\n", (long long)seq);
        else
            rag_buf_puts(&out, line);
    }
    if (f) fclose(f);
    f = fopen(p, "w");
    if (f) fputs(rag_buf_str(&out), f), fclose(f);
    rag_buf_free(&out);
    rag_free(p);
}

static size_t count_tmp_files(const char *db)
{
    char *p = rag_xasprintf("%s.vectors", db);
    DIR *d = opendir(p);
    rag_free(p);
    size_t n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* ---- a labelled corpus with known vectors ------------------------------------------- */

typedef struct corpus {
    store *s;
    char *path;
    int64_t model;
    int dims;
    size_t n_docs, cpd, n_chunks;
    int64_t *doc_id;    /* per document */
    uint32_t *doc_mask; /* labels g0..g19 as bits; 0: no label */
    int64_t *chunk_id;  /* per chunk (doc-major) */
    float *vec;         /* per chunk */
    int64_t *slot_of;   /* chunk id -> chunk index, -1 when none */
    int64_t max_id;
} corpus;

static void labels_csv(uint32_t mask, char *buf, size_t n)
{
    buf[0] = 0;
    for (int l = 0; l < N_LABELS; l++)
        if (mask & (1u << l)) {
            size_t len = strlen(buf);
            snprintf(buf + len, n - len, "%sg%d", len ? "," : "", l);
        }
}

static void corpus_index(corpus *c)
{
    c->max_id = 0;
    for (size_t i = 0; i < c->n_chunks; i++)
        if (c->chunk_id[i] > c->max_id) c->max_id = c->chunk_id[i];
    rag_free(c->slot_of);
    c->slot_of = rag_xmalloc((size_t)(c->max_id + 1) * sizeof *c->slot_of);
    for (int64_t i = 0; i <= c->max_id; i++)
        c->slot_of[i] = -1;
    for (size_t i = 0; i < c->n_chunks; i++)
        c->slot_of[c->chunk_id[i]] = (int64_t)i;
}

/* n_docs documents of cpd chunks: document i has label g(i % 20), every 5th
 * a second label, every 50th none (administrators only). */
static void corpus_build(corpus *c, const char *name, size_t n_docs, size_t cpd)
{
    memset(c, 0, sizeof *c);
    c->s = open_fresh(name);
    c->path = rag_xstrdup(store_path(c->s));
    c->dims = DIMS;
    c->n_docs = n_docs;
    c->cpd = cpd;
    c->n_chunks = n_docs * cpd;
    c->doc_id = rag_xcalloc(n_docs, sizeof *c->doc_id);
    c->doc_mask = rag_xcalloc(n_docs, sizeof *c->doc_mask);
    c->chunk_id = rag_xcalloc(c->n_chunks, sizeof *c->chunk_id);
    c->vec = rag_xcalloc(c->n_chunks * DIMS, sizeof *c->vec);
    rag_err err = {0};
    c->model = make_model(c->s, "aaaa", DIMS);
    CHECK_INT(store_model_set_active(c->s, c->model, &err), 0);
    CHECK_INT(store_begin(c->s, &err), 0);
    for (size_t i = 0; i < n_docs; i++) {
        uint32_t mask = 1u << (i % N_LABELS);
        if (i % 5 == 0) mask |= 1u << ((i * 7 + 3) % N_LABELS);
        if (i % 50 == 49) mask = 0;
        c->doc_mask[i] = mask;
        char csv[128], uri[64];
        labels_csv(mask, csv, sizeof csv);
        snprintf(uri, sizeof uri, "/corpus/%zu.txt", i);
        for (size_t j = 0; j < cpd; j++)
            rnd_vector(c->vec + (i * cpd + j) * DIMS, DIMS);
        c->doc_id[i] = put_doc(c->s, uri, group_of(c->s, csv), cpd, c->vec + i * cpd * DIMS,
                               c->model, DIMS, c->chunk_id + i * cpd);
        if (i % 500 == 499) {
            CHECK_INT(store_commit(c->s, &err), 0);
            CHECK_INT(store_begin(c->s, &err), 0);
        }
    }
    CHECK_INT(store_commit(c->s, &err), 0);
    corpus_index(c);
}

static void corpus_free(corpus *c)
{
    store_close(c->s);
    rag_free(c->path);
    rag_free(c->doc_id);
    rag_free(c->doc_mask);
    rag_free(c->chunk_id);
    rag_free(c->vec);
    rag_free(c->slot_of);
}

static void corpus_reopen(corpus *c)
{
    store_close(c->s);
    c->s = open_store(c->path);
}

typedef struct scored {
    double score;
    int64_t id;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Exact top k over the chunks visible to (admin, roles): the brute force. */
static size_t brute_topk(const corpus *c, const float *q, int admin, uint32_t roles, size_t k,
                         scored *out, size_t *n_visible)
{
    size_t n = 0, vis = 0;
    for (size_t i = 0; i < c->n_chunks; i++) {
        uint32_t m = c->doc_mask[i / c->cpd];
        if (!admin && !(m & roles)) continue;
        vis++;
        scored x = {dot(q, c->vec + i * (size_t)c->dims, c->dims), c->chunk_id[i]};
        if (n < k) {
            out[n++] = x;
            for (size_t j = n - 1; j > 0 && cmp_scored(&out[j], &out[j - 1]) < 0; j--) {
                scored t = out[j];
                out[j] = out[j - 1];
                out[j - 1] = t;
            }
        } else if (cmp_scored(&x, &out[k - 1]) < 0) {
            out[k - 1] = x;
            for (size_t j = k - 1; j > 0 && cmp_scored(&out[j], &out[j - 1]) < 0; j--) {
                scored t = out[j];
                out[j] = out[j - 1];
                out[j - 1] = t;
            }
        }
    }
    *n_visible = vis;
    return n;
}

static void make_principal(uint32_t roles, int admin, rag_principal *who)
{
    if (admin) {
        rag_principal_admin(who);
        return;
    }
    char csv[160];
    labels_csv(roles, csv, sizeof csv);
    if (!*csv) snprintf(csv, sizeof csv, "zz"); /* a role no document has */
    rag_err err = {0};
    CHECK_INT(rag_principal_from_roles(csv, who, &err), 0);
}

/* Checks one search against the brute force: count, visibility (through
 * SQL, store_doc_get with the principal), exact ranking up to float ties. */
static int check_exact(const corpus *c, const float *q, const rag_principal *who, uint32_t roles,
                       size_t k)
{
    int bad = 0;
    store_hits h;
    if (vsearch(c->s, q, c->dims, who, k, 0, &h)) return 1;
    scored *ex = rag_xcalloc(k, sizeof *ex);
    size_t vis, n_ex = brute_topk(c, q, who->admin, roles, k, ex, &vis);
    if (h.n != n_ex) {
        printf("    k=%zu: %zu hits, %zu visible vectors\n", k, h.n, vis);
        bad = 1;
    }
    for (size_t i = 0; i < h.n && i < n_ex; i++) {
        store_hit *x = &h.v[i];
        store_doc d;
        rag_err err = {0};
        if (store_doc_get(c->s, x->document_id, who, &d, &err) != 1) {
            printf("    k=%zu: hit %zu (chunk %lld) is not visible to the principal\n", k, i,
                   (long long)x->chunk_id);
            bad = 1;
        } else {
            store_doc_free(&d);
        }
        int64_t slot = x->chunk_id <= c->max_id ? c->slot_of[x->chunk_id] : -1;
        double truth = slot >= 0 ? dot(q, c->vec + (size_t)slot * c->dims, c->dims) : -9;
        if (fabs(truth - x->score) > 1e-4) {
            printf("    k=%zu: hit %zu score %g, its vector gives %g\n", k, i, x->score, truth);
            bad = 1;
        }
        /* The same chunk as the brute force, or one of equal score (float
         * summation order decides between near-ties). */
        if (x->chunk_id != ex[i].id && fabs(truth - ex[i].score) > 2e-5) {
            printf("    k=%zu: rank %zu is chunk %lld (%.7f), exact top-k has %lld (%.7f)\n", k, i,
                   (long long)x->chunk_id, truth, (long long)ex[i].id, ex[i].score);
            bad = 1;
        }
        for (size_t j = 0; j < i; j++)
            if (h.v[j].chunk_id == x->chunk_id) bad = 1;
    }
    store_hits_free(&h);
    rag_free(ex);
    return bad;
}

/* ---- exactness at scale ---------------------------------------------------------------- */

static corpus big; /* shared by the exactness and crash tests */

static void test_exact_role_scoped_search(void)
{
    size_t n_docs = UNDER_ASAN ? 2000 : 5000, cpd = 10;
    double t0 = rag_now_s();
    corpus_build(&big, "exact", n_docs, cpd);
    double t1 = rag_now_s();
    progress_log pl;
    CHECK_INT(vsync(big.s, 1, &pl), 0);
    CHECK_INT(pl.total, big.n_chunks); /* first sync: built from SQLite */
    double t2 = rag_now_s();
    int failures = 0;
    float q[DIMS];
    for (int p = 0; p < 200 && failures < 5; p++) {
        int admin = p == 0;
        uint32_t roles = 0;
        int n_roles = 1 + (int)(rnd() % 4);
        for (int r = 0; r < n_roles; r++)
            roles |= 1u << (rnd() % N_LABELS);
        if (p % 37 == 36) roles = 0; /* only a role nobody has: nothing visible */
        rag_principal who;
        make_principal(roles, admin, &who);
        if (p % 3 == 0) { /* a stored vector: its chunk first when visible */
            size_t i = rnd() % big.n_chunks;
            memcpy(q, big.vec + i * DIMS, sizeof q);
        } else {
            rnd_vector(q, DIMS);
        }
        static const size_t ks[] = {1, 10, 100};
        for (size_t j = 0; j < 3; j++)
            failures += check_exact(&big, q, &who, roles, ks[j]);
        rag_principal_free(&who);
    }
    CHECK_INT(failures, 0);
    /* Per document: one chunk per document, the document's best. */
    rag_principal admin;
    rag_principal_admin(&admin);
    rnd_vector(q, DIMS);
    store_hits h;
    CHECK_INT(vsearch(big.s, q, DIMS, &admin, 50, 1, &h), 0);
    CHECK_INT(h.n, 50);
    for (size_t i = 0; i < h.n; i++)
        for (size_t j = 0; j < i; j++)
            CHECK(h.v[i].document_id != h.v[j].document_id);
    if (h.n) {
        CHECK(h.v[0].snippet && !strcmp(h.v[0].snippet, "chunk text about something"));
        CHECK(h.v[0].uri && !strncmp(h.v[0].uri, "/corpus/", 8));
    }
    store_hits_free(&h);
    printf("    %zu chunks: insert %.1fs, build %.2fs, 600 searches checked %.1fs\n", big.n_chunks,
           t1 - t0, t2 - t1, rag_now_s() - t2);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_errors(void)
{
    store *s = open_fresh("nomodel");
    rag_principal admin;
    rag_principal_admin(&admin);
    float q[DIMS] = {1};
    store_hits h;
    store_search_params p;
    store_search_default_params(&p);
    rag_err err = {0};
    CHECK_INT(store_search_vector(s, q, DIMS, &admin, &p, &h, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "the database has no vectors (ingest with --embed-model)");
    CHECK_INT(store_vindex_sync(s, 1, NULL, NULL, &err), 0); /* nothing to index */
    int64_t m = make_model(s, "bbbb", DIMS);
    CHECK_INT(store_model_set_active(s, m, &err), 0);
    CHECK_INT(store_search_vector(s, q, DIMS / 2, &admin, &p, &h, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "dimensions");
    CHECK_INT(store_search_vector(s, q, DIMS, &admin, &p, &h, &err), 0); /* empty: no hits */
    CHECK_INT(h.n, 0);
    store_hits_free(&h);
    /* A large factory FAISS does not know fails the build, naming the file. */
    float v[4 * DIMS];
    for (int i = 0; i < 4; i++)
        rnd_vector(v + i * DIMS, DIMS);
    int64_t ids[4];
    CHECK_INT(store_begin(s, &err), 0);
    put_doc(s, "/x", group_of(s, "a"), 4, v, m, DIMS, ids);
    CHECK_INT(store_commit(s, &err), 0);
    store_vindex_params vp;
    store_vindex_default_params(&vp);
    vp.large_group = 1;
    vp.large_factory = "NoSuchIndex";
    store_vindex_configure(s, &vp);
    CHECK(store_vindex_rebuild(s, NULL, NULL, &err) < 0);
    CHECK_CONTAINS(err.msg, ".vectors/group-");
    store_vindex_default_params(&vp);
    store_vindex_configure(s, &vp);
    CHECK_INT(store_vindex_rebuild(s, NULL, NULL, &err), 0);
    CHECK_INT(vsearch(s, v, DIMS, &admin, 10, 0, &h), 0);
    CHECK_INT(h.n, 4);
    if (h.n) CHECK_INT(h.v[0].chunk_id, ids[0]);
    store_hits_free(&h);
    store_close(s);
}

/* ---- following the change log ------------------------------------------------------------ */

/* The chunk ids of a search, for comparing answers. */
static void answer(store *s, const float *q, const rag_principal *who, size_t k, int64_t *ids,
                   size_t *n)
{
    store_hits h;
    *n = 0;
    if (vsearch(s, q, DIMS, who, k, 0, &h)) return;
    for (size_t i = 0; i < h.n; i++)
        ids[(*n)++] = h.v[i].chunk_id;
    store_hits_free(&h);
}

static int contains(store *s, const float *q, const rag_principal *who, size_t k, int64_t id)
{
    int64_t ids[256];
    size_t n;
    answer(s, q, who, k, ids, &n);
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

static int64_t top1(store *s, const float *q, const rag_principal *who)
{
    int64_t ids[1];
    size_t n;
    answer(s, q, who, 1, ids, &n);
    return n ? ids[0] : -1;
}

static void test_sync_follows_changes(void)
{
    store *s = open_fresh("sync");
    char *path = rag_xstrdup(store_path(s));
    rag_err err = {0};
    int64_t m = make_model(s, "cccc", DIMS);
    CHECK_INT(store_model_set_active(s, m, &err), 0);
    int64_t ga = group_of(s, "a"), gb = group_of(s, "b");
    enum { N = 40, C = 3 };
    float v[N][C * DIMS];
    int64_t ids[N][C], docs[N];
    CHECK_INT(store_begin(s, &err), 0);
    for (int i = 0; i < N; i++) {
        char uri[32];
        snprintf(uri, sizeof uri, "/s/%d", i);
        for (int j = 0; j < C; j++)
            rnd_vector(v[i] + j * DIMS, DIMS);
        docs[i] = put_doc(s, uri, i % 2 ? gb : ga, C, v[i], m, DIMS, ids[i]);
    }
    CHECK_INT(store_commit(s, &err), 0);
    rag_principal admin, ra, rb;
    rag_principal_admin(&admin);
    CHECK_INT(rag_principal_from_roles("a", &ra, &err), 0);
    CHECK_INT(rag_principal_from_roles("b", &rb, &err), 0);
    CHECK_INT(vsync(s, 1, NULL), 0);
    CHECK_INT(top1(s, v[0], &admin), ids[0][0]);
    CHECK_INT(top1(s, v[0], &ra), ids[0][0]);
    CHECK(top1(s, v[0], &rb) != ids[0][0]);

    /* added: found by the next search (it syncs by itself) */
    float nv[C * DIMS];
    int64_t nids[C];
    for (int j = 0; j < C; j++)
        rnd_vector(nv + j * DIMS, DIMS);
    CHECK_INT(store_begin(s, &err), 0);
    int64_t ndoc = put_doc(s, "/s/new", ga, C, nv, m, DIMS, nids);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK_INT(top1(s, nv + DIMS, &ra), nids[1]);

    /* deleted: gone */
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_doc_delete(s, docs[2], &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK(!contains(s, v[2], &admin, 200, ids[2][0]));
    CHECK(!contains(s, v[2] + DIMS, &ra, 200, ids[2][1]));

    /* moved from group a to group b: b sees it, a no longer */
    CHECK_INT(top1(s, v[4], &ra), ids[4][0]);
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_doc_touch(s, docs[4], 2, gb, &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK_INT(top1(s, v[4], &rb), ids[4][0]);
    CHECK(!contains(s, v[4], &ra, 200, ids[4][0]));
    CHECK(!contains(s, v[4] + DIMS, &ra, 200, ids[4][1]));

    /* replaced (new chunks, new ids) and vectors put again */
    float rv[2 * DIMS];
    int64_t rids[2];
    for (int j = 0; j < 2; j++)
        rnd_vector(rv + j * DIMS, DIMS);
    CHECK_INT(store_begin(s, &err), 0);
    put_doc(s, "/s/6", ga, 2, rv, m, DIMS, rids);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK(!contains(s, v[6], &admin, 200, ids[6][0]));
    CHECK_INT(top1(s, rv, &ra), rids[0]);
    CHECK_INT(top1(s, rv + DIMS, &admin), rids[1]);

    /* a vector put again for an existing chunk: the new one counts */
    float nv2[DIMS];
    rnd_vector(nv2, DIMS);
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_vector_put(s, ids[8][2], m, nv2, DIMS, &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK_INT(top1(s, nv2, &ra), ids[8][2]);
    CHECK(top1(s, v[8] + 2 * DIMS, &ra) != ids[8][2]);

    /* Counts: every visible vector comes back with a large k. */
    int64_t all[256];
    size_t n_all;
    answer(s, nv, &admin, 256, all, &n_all);
    CHECK_INT(n_all, N * C + C - C /* deleted */ - C + 2 /* replaced */);

    /* Persisted, then reopened: the same answers, without replay or rebuild. */
    CHECK_INT(vsync(s, 1, NULL), 0);
    CHECK_INT(manifest_seq(path, 0, NULL, NULL), log_max_seq(path));
    int64_t before[5][10];
    size_t nb[5];
    float qs[5][DIMS];
    for (int i = 0; i < 5; i++) {
        rnd_vector(qs[i], DIMS);
        answer(s, qs[i], i % 2 ? &ra : &admin, 10, before[i], &nb[i]);
    }
    store_close(s);
    s = open_store(path);
    progress_log pl;
    CHECK_INT(vsync(s, 0, &pl), 0);
    CHECK_INT(pl.calls, 0);
    for (int i = 0; i < 5; i++) {
        int64_t after[10];
        size_t na;
        answer(s, qs[i], i % 2 ? &ra : &admin, 10, after, &na);
        CHECK_INT(na, nb[i]);
        CHECK(!memcmp(after, before[i], na * sizeof *after));
    }

    /* Files behind the log catch up by replay (no rebuild). */
    int64_t seq_before = log_max_seq(path);
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_doc_delete(s, ndoc, &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK(!contains(s, nv + DIMS, &admin, 200, nids[1]));
    store_close(s);
    s = open_store(path); /* files still at the old seq: the delete is replayed */
    CHECK_INT(vsync(s, 0, &pl), 0);
    CHECK(pl.calls > 0 && pl.total == C); /* replayed the C deleted chunks, no rebuild */
    CHECK(!contains(s, nv + DIMS, &admin, 200, nids[1]));
    CHECK_INT(vsync(s, 1, NULL), 0);
    for (int i = 0; i < 5; i++)
        answer(s, qs[i], i % 2 ? &ra : &admin, 10, before[i], &nb[i]);
    /* Replay is idempotent: files that already hold changes the manifest
     * says they do not (a writer stopped between the group files and the
     * manifest) replay them again to the same state; so does the whole log. */
    int64_t seqs[] = {seq_before, 5};
    for (int r = 0; r < 2; r++) {
        store_close(s);
        set_manifest_seq(path, seqs[r]);
        s = open_store(path);
        CHECK_INT(vsync(s, 0, &pl), 0);
        CHECK(pl.calls > 0 && pl.total < (size_t)(N * C + 10)); /* replayed, not rebuilt */
        for (int i = 0; i < 5; i++) {
            int64_t after[10];
            size_t na;
            answer(s, qs[i], i % 2 ? &ra : &admin, 10, after, &na);
            CHECK_INT(na, nb[i]);
            CHECK(!memcmp(after, before[i], na * sizeof *after));
        }
        CHECK(!contains(s, nv + DIMS, &admin, 200, nids[1]));
        CHECK_INT(top1(s, nv2, &ra), ids[8][2]);
    }
    CHECK_INT(vsync(s, 1, NULL), 0);
    CHECK_INT(manifest_seq(path, 0, NULL, NULL), log_max_seq(path));
    rag_strv problems = {0};
    CHECK_INT(store_vindex_check(s, &problems, &err), 0);
    for (size_t i = 0; i < problems.n; i++)
        printf("    problem: %s\n", problems.v[i]);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);

    /* The log compacted past the files' seq: what it lost cannot be
     * replayed, so everything is rebuilt. The first change after the files
     * (a deleted chunk) is among what the compaction drops. */
    store_close(s);
    int64_t s0 = log_max_seq(path);
    s = open_store(path);
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_doc_delete(s, docs[12], &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    store_close(s);
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM changes WHERE seq <= %lld", (long long)s0 + 1);
    exec_sql(path, sql);
    s = open_store(path);
    CHECK_INT(vsync(s, 0, &pl), 0);
    CHECK_INT(pl.total, N * C + C - 3 * C - 1); /* every vector: a rebuild */
    for (int j = 0; j < C; j++)
        CHECK(!contains(s, v[12] + j * DIMS, &admin, 200, ids[12][j]));
    /* ... and files from another database (a seq the log never reached) too. */
    CHECK_INT(vsync(s, 1, NULL), 0);
    store_close(s);
    set_manifest_seq(path, log_max_seq(path) + 1000);
    s = open_store(path);
    CHECK_INT(vsync(s, 0, &pl), 0);
    CHECK_INT(pl.total, N * C + C - 3 * C - 1);
    CHECK_INT(vsync(s, 1, NULL), 0);

    /* A search inside a write transaction sees it, and a rollback undoes it. */
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_doc_delete(s, docs[10], &err), 0);
    CHECK(!contains(s, v[10], &admin, 200, ids[10][0]));
    store_rollback(s);
    CHECK_INT(top1(s, v[10], &admin), ids[10][0]);

    rag_principal_free(&ra);
    rag_principal_free(&rb);
    store_close(s);
    rag_free(path);
}

/* ---- crashes and damaged files ------------------------------------------------------------- */

#define NQ 12

typedef struct answers {
    int64_t ids[NQ][10];
    size_t n[NQ];
} answers;

static float crash_q[NQ][DIMS];

static void principal_for(int i, rag_principal *who)
{
    static const char *roles[] = {"g1", "g2,g7", "g3,g11,g19", "zz"};
    if (i % 5 == 0)
        rag_principal_admin(who);
    else {
        rag_err err = {0};
        CHECK_INT(rag_principal_from_roles(roles[i % 4], who, &err), 0);
    }
}

static void take_answers(store *s, answers *a)
{
    for (int i = 0; i < NQ; i++) {
        rag_principal who;
        principal_for(i, &who);
        answer(s, crash_q[i], &who, 10, a->ids[i], &a->n[i]);
        rag_principal_free(&who);
    }
}

static int same_answers(const answers *a, const answers *b)
{
    for (int i = 0; i < NQ; i++)
        if (a->n[i] != b->n[i] || memcmp(a->ids[i], b->ids[i], a->n[i] * sizeof(int64_t))) return 0;
    return 1;
}

static char *vec_file(const corpus *c, const char *name)
{
    return rag_xasprintf("%s.vectors/%s", c->path, name);
}

/* The id of some group with a file, and that file's name. */
static int64_t some_group_file(const corpus *c, int nth, char **path)
{
    char *p = rag_xasprintf("%s.vectors/manifest", c->path);
    FILE *f = fopen(p, "r");
    rag_free(p);
    char line[256];
    long long id = -1;
    while (f && fgets(line, sizeof line, f)) {
        long long a;
        if (sscanf(line, "group %lld", &a) == 1 && nth-- == 0) {
            id = a;
            break;
        }
    }
    if (f) fclose(f);
    char name[64];
    snprintf(name, sizeof name, "group-%lld.faiss", id);
    *path = vec_file(c, name);
    return id;
}

/* Progress callback: notes when the build is complete (what follows is
 * writing) and tells a parent through a pipe. */
typedef struct built_at {
    int fd;
    double t;
} built_at;

static void on_built(void *ctx, size_t done, size_t total)
{
    built_at *b = ctx;
    if (done != total) return;
    b->t = rag_now_s();
    if (b->fd >= 0 && write(b->fd, "x", 1) < 0) _exit(5);
}

static void test_crash_and_damage(void)
{
    corpus *c = &big;
    if (!c->s) SKIP("needs the corpus of test_exact_role_scoped_search");
    for (int i = 0; i < NQ; i++)
        rnd_vector(crash_q[i], DIMS);
    answers base, now;
    CHECK_INT(vsync(c->s, 1, NULL), 0);
    take_answers(c->s, &base);
    progress_log pl;
    rag_err err = {0};

    /* the directory removed: rebuilt, same answers */
    char *dir = rag_xasprintf("%s.vectors", c->path);
    rm_rf(dir);
    corpus_reopen(c);
    CHECK_INT(vsync(c->s, 1, &pl), 0);
    CHECK_INT(pl.total, c->n_chunks);
    take_answers(c->s, &now);
    CHECK(same_answers(&base, &now));

    /* a group file damaged in the middle: that group rebuilt, same answers */
    char *gf;
    int64_t gid = some_group_file(c, 3, &gf);
    int64_t gcount = 0;
    manifest_seq(c->path, gid, &gcount, NULL);
    FILE *f = fopen(gf, "r+");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size / 2, SEEK_SET);
        for (int i = 0; i < 64; i++)
            fputc(0xAB, f);
        fclose(f);
    }
    corpus_reopen(c);
    CHECK_INT(vsync(c->s, 0, &pl), 0);
    CHECK(gcount > 0);
    CHECK_INT(pl.total, gcount);
    take_answers(c->s, &now);
    CHECK(same_answers(&base, &now));
    rag_strv problems = {0};
    CHECK_INT(store_vindex_check(c->s, &problems, &err), 0);
    CHECK(problems.n >= 1);
    if (problems.n) CHECK_CONTAINS(problems.v[0], "checksum");
    rag_strv_free(&problems);
    CHECK_INT(vsync(c->s, 1, NULL), 0); /* persisted: repaired on disk too */
    CHECK_INT(store_vindex_check(c->s, &problems, &err), 0);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);
    /* ... and a file truncated to half. */
    CHECK_INT(truncate(gf, 100), 0);
    corpus_reopen(c);
    CHECK_INT(vsync(c->s, 1, &pl), 0);
    CHECK_INT(pl.total, gcount);
    take_answers(c->s, &now);
    CHECK(same_answers(&base, &now));
    rag_free(gf);

    /* the manifest truncated: everything rebuilt */
    char *mf = vec_file(c, "manifest");
    CHECK_INT(truncate(mf, 40), 0);
    corpus_reopen(c);
    CHECK_INT(vsync(c->s, 1, &pl), 0);
    CHECK_INT(pl.total, c->n_chunks);
    take_answers(c->s, &now);
    CHECK(same_answers(&base, &now));

    /* leftovers of killed writers do not matter, and the next writer removes them */
    char *t1 = vec_file(c, "group-1.faiss.tmp.999999"), *t2 = vec_file(c, "manifest.tmp.999999");
    f = fopen(t1, "w");
    if (f) fputs("half a file", f), fclose(f);
    f = fopen(t2, "w");
    if (f) fputs("rag-vectors 1\nmodel", f), fclose(f);
    corpus_reopen(c);
    CHECK_INT(vsync(c->s, 0, &pl), 0);
    CHECK_INT(pl.calls, 0);
    take_answers(c->s, &now);
    CHECK(same_answers(&base, &now));
    CHECK_INT(count_tmp_files(c->path), 2);
    CHECK_INT(store_vindex_rebuild(c->s, NULL, NULL, &err), 0);
    CHECK_INT(count_tmp_files(c->path), 0);
    rag_free(t1);
    rag_free(t2);

    /* another active model: rebuilt for it; back: rebuilt again */
    int64_t m2 = make_model(c->s, "dddd", 8);
    float v8[8];
    size_t n2 = 300;
    CHECK_INT(store_begin(c->s, &err), 0);
    for (size_t i = 0; i < n2; i++) {
        rnd_vector(v8, 8);
        CHECK_INT(store_vector_put(c->s, c->chunk_id[i * 7], m2, v8, 8, &err), 0);
    }
    CHECK_INT(store_model_set_active(c->s, m2, &err), 0);
    CHECK_INT(store_commit(c->s, &err), 0);
    rag_principal admin;
    rag_principal_admin(&admin);
    store_hits h;
    CHECK_INT(vsearch(c->s, v8, 8, &admin, 5, 0, &h), 0); /* the memory follows at once */
    CHECK_INT(h.n, 5);
    if (h.n) CHECK_INT(h.v[0].chunk_id, c->chunk_id[(n2 - 1) * 7]);
    store_hits_free(&h);
    store_search_params sp;
    store_search_default_params(&sp);
    CHECK_INT(store_search_vector(c->s, crash_q[0], DIMS, &admin, &sp, &h, &err), RAG_ERR_INVALID);
    CHECK_INT(vsync(c->s, 1, NULL), 0);
    corpus_reopen(c); /* files of model m2 now */
    CHECK_INT(store_model_set_active(c->s, c->model, &err), 0);
    CHECK_INT(vsync(c->s, 1, &pl), 0);
    CHECK_INT(pl.total, c->n_chunks);
    take_answers(c->s, &now);
    CHECK(same_answers(&base, &now));

    /* A writer killed (SIGKILL) at random moments while it rebuilds and
     * writes the files: the next sync here gives the right answers. The
     * child opens its own connection (SQLite handles do not cross fork) and
     * builds flat indexes only (no OpenMP team exists to be lost in fork).
     * Half the kills land anywhere; the other half in the writing phase,
     * which the child announces through a pipe when its build is done. */
    built_at bt = {-1, 0};
    double t0 = rag_now_s();
    CHECK_INT(store_vindex_rebuild(c->s, on_built, &bt, &err), 0);
    double t_all = rag_now_s() - t0, t_write = rag_now_s() - bt.t;
    int runs = UNDER_ASAN ? 4 : 8, landed = 0, in_write = 0;
    for (int r = 0; r < runs; r++) {
        int fds[2];
        size_t tmp_before = count_tmp_files(c->path);
        CHECK_INT(pipe(fds), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            store *cs = NULL;
            rag_err cerr = {0};
            built_at cb = {fds[1], 0};
            if (store_open(c->path, NULL, &cs, &cerr)) _exit(3);
            int rc = store_vindex_rebuild(cs, on_built, &cb, &cerr);
            _exit(rc ? 4 : 0);
        }
        close(fds[1]);
        CHECK(pid > 0);
        useconds_t delay;
        if (r % 2) {
            char x;
            CHECK_INT(read(fds[0], &x, 1), 1); /* built: writing starts */
            delay = (useconds_t)(rnd_unit() * t_write * 1.2e6);
        } else {
            delay = (useconds_t)(rnd_unit() * t_all * 1.2e6);
        }
        usleep(delay);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        close(fds[0]);
        if (WIFSIGNALED(status))
            landed++, in_write += count_tmp_files(c->path) > tmp_before;
        else
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        corpus_reopen(c);
        CHECK_INT(vsync(c->s, 0, NULL), 0);
        take_answers(c->s, &now);
        CHECK(same_answers(&base, &now));
    }
    printf("    writer killed in %d of %d runs, %d of them inside a group file (build %.0f ms, "
           "write %.0f ms)\n",
           landed, runs, in_write, (t_all - t_write) * 1e3, t_write * 1e3);
    CHECK_INT(vsync(c->s, 1, NULL), 0);
    CHECK_INT(store_vindex_check(c->s, &problems, &err), 0);
    for (size_t i = 0; i < problems.n; i++)
        printf("    problem: %s\n", problems.v[i]);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);
    CHECK_INT(count_tmp_files(c->path), 0);
    rag_free(mf);
    rag_free(dir);
}

/* ---- large groups: HNSW ---------------------------------------------------------------------- */

static void test_hnsw_large_group(void)
{
    store *s = open_fresh("hnsw");
    char *path = rag_xstrdup(store_path(s));
    rag_err err = {0};
    int64_t m = make_model(s, "eeee", DIMS);
    CHECK_INT(store_model_set_active(s, m, &err), 0);
    store_vindex_params vp;
    store_vindex_default_params(&vp);
    vp.large_group = 2000;
    vp.ef_search = 64;
    store_vindex_configure(s, &vp);
    int64_t gbig = group_of(s, "big"), gsmall = group_of(s, "small");
    size_t n_docs = UNDER_ASAN ? 300 : 600, cpd = 10, n = n_docs * cpd;
    float *v = rag_xcalloc(n * DIMS, sizeof *v);
    int64_t *ids = rag_xcalloc(n, sizeof *ids), *docs = rag_xcalloc(n_docs, sizeof *docs);
    float sv[50 * DIMS];
    int64_t sids[50];
    CHECK_INT(store_begin(s, &err), 0);
    for (size_t i = 0; i < n_docs; i++) {
        char uri[32];
        snprintf(uri, sizeof uri, "/h/%zu", i);
        for (size_t j = 0; j < cpd; j++)
            rnd_vector(v + (i * cpd + j) * DIMS, DIMS);
        docs[i] = put_doc(s, uri, gbig, cpd, v + i * cpd * DIMS, m, DIMS, ids + i * cpd);
    }
    for (int j = 0; j < 50; j++)
        rnd_vector(sv + j * DIMS, DIMS);
    put_doc(s, "/small", gsmall, 50, sv, m, DIMS, sids);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK_INT(vsync(s, 1, NULL), 0);
    char kind[8] = "";
    int64_t count = 0;
    manifest_seq(path, gbig, &count, kind);
    CHECK_STR(kind, "large");
    CHECK_INT(count, n);
    manifest_seq(path, gsmall, &count, kind);
    CHECK_STR(kind, "flat");

    /* recall@10 against the exact top 10 */
    rag_principal who;
    CHECK_INT(rag_principal_from_roles("big", &who, &err), 0);
    int nq = 100, found = 0;
    for (int qi = 0; qi < nq; qi++) {
        float q[DIMS];
        rnd_vector(q, DIMS);
        scored ex[10];
        size_t ne = 0;
        for (size_t i = 0; i < n; i++) {
            scored x = {dot(q, v + i * DIMS, DIMS), ids[i]};
            if (ne < 10)
                ex[ne++] = x;
            else if (cmp_scored(&x, &ex[9]) < 0)
                ex[9] = x;
            qsort(ex, ne, sizeof *ex, cmp_scored);
        }
        int64_t got[10];
        size_t ng;
        answer(s, q, &who, 10, got, &ng);
        CHECK_INT(ng, 10);
        for (size_t a = 0; a < ng; a++)
            for (size_t b = 0; b < 10; b++)
                if (got[a] == ex[b].id) found++;
    }
    double recall = (double)found / (nq * 10);
    printf("    HNSW32 over %zu vectors, efSearch 64: recall@10 %.3f\n", n, recall);
    CHECK(recall >= 0.9);

    /* deletions (HNSW cannot remove: the group is rebuilt) */
    CHECK_INT(store_begin(s, &err), 0);
    for (size_t i = 0; i < 20; i++)
        CHECK_INT(store_doc_delete(s, docs[i * 3], &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    int leaked = 0;
    for (size_t i = 0; i < 20; i++)
        for (size_t j = 0; j < cpd; j += 3)
            leaked += contains(s, v + (i * 3 * cpd + j) * DIMS, &who, 10, ids[i * 3 * cpd + j]);
    CHECK_INT(leaked, 0);
    CHECK_INT(top1(s, v + 15 * DIMS, &who), ids[15]); /* survivors (document 1) still found */
    /* an addition goes into the HNSW index as it is */
    float nv[DIMS];
    int64_t nid;
    rnd_vector(nv, DIMS);
    CHECK_INT(store_begin(s, &err), 0);
    put_doc(s, "/h/new", gbig, 1, nv, m, DIMS, &nid);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK(contains(s, nv, &who, 10, nid));
    CHECK_INT(vsync(s, 1, NULL), 0);
    manifest_seq(path, gbig, &count, kind);
    CHECK_STR(kind, "large");
    CHECK_INT(count, n - 20 * cpd + 1);
    rag_strv problems = {0};
    CHECK_INT(store_vindex_check(s, &problems, &err), 0);
    for (size_t i = 0; i < problems.n; i++)
        printf("    problem: %s\n", problems.v[i]);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);
    /* the small group stays exact */
    rag_principal sm;
    CHECK_INT(rag_principal_from_roles("small", &sm, &err), 0);
    CHECK_INT(top1(s, sv + 7 * DIMS, &sm), sids[7]);
    rag_principal_free(&sm);
    rag_principal_free(&who);
    rag_free(v);
    rag_free(ids);
    rag_free(docs);
    rag_free(path);
    store_close(s);
}

/* ---- check ------------------------------------------------------------------------------------
 */

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    CHECK(a && b);
    if (a && b) {
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, a)) > 0)
            fwrite(buf, 1, n, b);
    }
    if (a) fclose(a);
    if (b) fclose(b);
}

static void test_check_finds_tampering(void)
{
    corpus c;
    corpus_build(&c, "check", 200, 5);
    rag_err err = {0};
    CHECK_INT(store_vindex_rebuild(c.s, NULL, NULL, &err), 0);
    rag_strv problems = {0};
    CHECK_INT(store_vindex_check(c.s, &problems, &err), 0);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);

    /* files behind the log are normal: no problem */
    float v[DIMS];
    rnd_vector(v, DIMS);
    int64_t id;
    CHECK_INT(store_begin(c.s, &err), 0);
    put_doc(c.s, "/late", group_of(c.s, "g4"), 1, v, c.model, DIMS, &id);
    CHECK_INT(store_commit(c.s, &err), 0);
    CHECK_INT(store_vindex_check(c.s, &problems, &err), 0);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);

    /* one group's file in the place of another's */
    char *a, *b;
    some_group_file(&c, 0, &a);
    int64_t gb = some_group_file(&c, 1, &b);
    copy_file(a, b);
    CHECK_INT(store_vindex_check(c.s, &problems, &err), 0);
    CHECK(problems.n >= 1);
    char name[64];
    snprintf(name, sizeof name, "group-%lld.faiss", (long long)gb);
    if (problems.n) CHECK_CONTAINS(problems.v[0], name);
    rag_strv_free(&problems);

    /* the manifest rewritten to match the swapped file: the contents differ */
    char *mf = vec_file(&c, "manifest");
    char *text = NULL;
    {
        FILE *f = fopen(mf, "r");
        rag_buf out = {0};
        char line[256];
        int64_t ga_bytes = 0, ga_count = 0;
        char ga_hash[32] = "";
        long long gid_a = -1;
        while (f && fgets(line, sizeof line, f)) {
            long long g, cnt, by;
            char h[32], k[16];
            if (sscanf(line, "group %lld %lld %lld %31s %15s", &g, &cnt, &by, h, k) == 5 &&
                gid_a < 0) {
                gid_a = g, ga_bytes = by, ga_count = cnt;
                snprintf(ga_hash, sizeof ga_hash, "%s", h);
            }
        }
        if (f) rewind(f);
        while (f && fgets(line, sizeof line, f)) {
            long long g, cnt, by;
            char h[32], k[16];
            if (sscanf(line, "group %lld %lld %lld %31s %15s", &g, &cnt, &by, h, k) == 5 && g == gb)
                rag_buf_printf(&out, "group %lld %lld %lld %s %s\n", g, (long long)ga_count,
                               (long long)ga_bytes, ga_hash, k);
            else
                rag_buf_puts(&out, line);
        }
        if (f) fclose(f);
        text = rag_buf_steal(&out);
        f = fopen(mf, "w");
        if (f) fputs(text, f), fclose(f);
    }
    rag_free(text);
    CHECK_INT(store_vindex_check(c.s, &problems, &err), 0);
    CHECK(problems.n >= 1);
    for (size_t i = 0; i < problems.n; i++)
        printf("    (expected) %s\n", problems.v[i]);
    if (problems.n) CHECK_CONTAINS(problems.v[0], name);
    rag_strv_free(&problems);

    CHECK_INT(store_vindex_rebuild(c.s, NULL, NULL, &err), 0);
    CHECK_INT(store_vindex_check(c.s, &problems, &err), 0);
    for (size_t i = 0; i < problems.n; i++)
        printf("    problem: %s\n", problems.v[i]);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);
    rag_free(a);
    rag_free(b);
    rag_free(mf);
    corpus_free(&c);
}

/* ---- connections sharing the indexes ------------------------------------- */

typedef struct searcher {
    store *s;
    const float *q;
    int64_t want_first; /* the id every search must return first */
    volatile int *stop;
    int searches, wrong, failed;
} searcher;

static void *search_loop(void *p)
{
    searcher *w = p;
    rag_principal admin;
    rag_principal_admin(&admin);
    while (!*w->stop) {
        store_hits h;
        if (vsearch(w->s, w->q, DIMS, &admin, 5, 0, &h)) {
            w->failed++;
            break;
        }
        if (!h.n || h.v[0].chunk_id != w->want_first) w->wrong++;
        store_hits_free(&h);
        w->searches++;
    }
    return NULL;
}

static void test_shared_connections(void)
{
    store *a = open_fresh("shared");
    char *path = rag_xstrdup(store_path(a));
    rag_err err = {0};
    int64_t m = make_model(a, "dddd", DIMS);
    CHECK_INT(store_model_set_active(a, m, &err), 0);
    int64_t g = group_of(a, "a");
    enum { N = 200 };
    float v[N][DIMS], probe[DIMS];
    int64_t ids[N][1], probe_id[1];
    CHECK_INT(store_begin(a, &err), 0);
    for (int i = 0; i < N; i++) {
        char uri[32];
        snprintf(uri, sizeof uri, "/sh/%d", i);
        rnd_vector(v[i], DIMS);
        put_doc(a, uri, g, 1, v[i], m, DIMS, ids[i]);
    }
    rnd_vector(probe, DIMS);
    put_doc(a, "/sh/probe", g, 1, probe, m, DIMS, probe_id);
    CHECK_INT(store_commit(a, &err), 0);

    /* three readers, one set of indexes; a fourth connection writes */
    store *b = open_store(path), *c = open_store(path), *writer = open_store(path);
    store_vindex_share(b, a);
    store_vindex_share(c, a);
    volatile int stop = 0;
    searcher w[3] = {{a, probe, probe_id[0], &stop, 0, 0, 0},
                     {b, probe, probe_id[0], &stop, 0, 0, 0},
                     {c, probe, probe_id[0], &stop, 0, 0, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, search_loop, &w[i]);
    /* documents come and go meanwhile (never a better match for the probe) */
    for (int round = 0; round < 30; round++) {
        char uri[32];
        int64_t id[1];
        float x[DIMS];
        do
            rnd_vector(x, DIMS);
        while (dot(x, probe, DIMS) > 0.5);
        snprintf(uri, sizeof uri, "/sh/new%d", round);
        CHECK_INT(store_begin(writer, &err), 0);
        int64_t doc = put_doc(writer, uri, g, 1, x, m, DIMS, id);
        if (round % 2) CHECK_INT(store_doc_delete(writer, doc, &err), 0);
        CHECK_INT(store_commit(writer, &err), 0);
        usleep(2000);
    }
    /* the last document, found through any connection */
    float last[DIMS];
    int64_t last_id[1];
    rnd_vector(last, DIMS);
    CHECK_INT(store_begin(writer, &err), 0);
    put_doc(writer, "/sh/last", g, 1, last, m, DIMS, last_id);
    CHECK_INT(store_commit(writer, &err), 0);
    usleep(20000);
    stop = 1;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(w[i].failed, 0);
        CHECK_INT(w[i].wrong, 0);
        CHECK(w[i].searches > 0);
    }
    rag_principal admin;
    rag_principal_admin(&admin);
    CHECK_INT(top1(b, last, &admin), last_id[0]);
    CHECK_INT(top1(c, last, &admin), last_id[0]);
    /* the owner may close first: the others keep the indexes */
    store_close(a);
    CHECK_INT(top1(b, v[7], &admin), ids[7][0]);
    store_close(b);
    CHECK_INT(top1(c, v[9], &admin), ids[9][0]);
    /* not inside a write transaction */
    CHECK_INT(store_begin(c, &err), 0);
    CHECK_INT(store_vindex_sync(c, 0, NULL, NULL, &err), RAG_ERR_INVALID);
    store_rollback(c);
    store_close(c);
    store_close(writer);
    rag_free(path);
}

/* ---- the background mode (ragd): searches never replay, catch-up does ------------------ */

static void *catch_up_loop(void *p)
{
    searcher *w = p; /* s: the indexer's connection; searches counts catch-ups */
    while (!*w->stop) {
        rag_err err = {0};
        if (store_vindex_catch_up(w->s, &err)) {
            printf("    catch-up: %s\n", err.msg);
            w->failed++;
            break;
        }
        w->searches++;
        usleep(1000);
    }
    return NULL;
}

static void test_background_catch_up(void)
{
    store *a = open_fresh("background");
    char *path = rag_xstrdup(store_path(a));
    rag_err err = {0};
    int64_t m = make_model(a, "eeee", DIMS);
    CHECK_INT(store_model_set_active(a, m, &err), 0);
    int64_t ga = group_of(a, "a"), gb = group_of(a, "b");
    enum { N = 40 };
    float va[N][DIMS], vb[N][DIMS];
    int64_t ia[N][1], ib[N][1], da[N], db[N];
    CHECK_INT(store_begin(a, &err), 0);
    for (int i = 0; i < N; i++) {
        char uri[32];
        snprintf(uri, sizeof uri, "/bg/a%d", i);
        rnd_vector(va[i], DIMS);
        da[i] = put_doc(a, uri, ga, 1, va[i], m, DIMS, ia[i]);
        snprintf(uri, sizeof uri, "/bg/b%d", i);
        rnd_vector(vb[i], DIMS);
        db[i] = put_doc(a, uri, gb, 1, vb[i], m, DIMS, ib[i]);
    }
    CHECK_INT(store_commit(a, &err), 0);
    /* group b is a large one (HNSW): a removal there is a rebuild */
    store_vindex_params vp;
    store_vindex_default_params(&vp);
    vp.large_group = 30;
    store_vindex_configure(a, &vp);
    CHECK_INT(vsync(a, 0, NULL), 0);
    store *indexer = open_store(path), *writer = open_store(path);
    store_vindex_share(indexer, a);
    store_vindex_set_background(a, 1);
    rag_principal admin, only_a, only_b;
    rag_principal_admin(&admin);
    CHECK_INT(rag_principal_from_roles("a", &only_a, &err), 0);
    CHECK_INT(rag_principal_from_roles("b", &only_b, &err), 0);

    /* a new document: searches do not replay; the catch-up brings it */
    float x[DIMS];
    int64_t ix[1];
    rnd_vector(x, DIMS);
    CHECK_INT(store_begin(writer, &err), 0);
    put_doc(writer, "/bg/new", ga, 1, x, m, DIMS, ix);
    CHECK_INT(store_commit(writer, &err), 0);
    CHECK(top1(a, x, &admin) != ix[0]);
    CHECK_INT(store_vindex_catch_up(indexer, &err), 0);
    CHECK_INT(top1(a, x, &admin), ix[0]);
    CHECK_INT(top1(a, x, &only_a), ix[0]);

    /* a deletion is honoured at once, before any catch-up */
    CHECK_INT(store_begin(writer, &err), 0);
    CHECK_INT(store_doc_delete(writer, da[3], &err), 0);
    CHECK_INT(store_doc_delete(writer, db[4], &err), 0);
    CHECK_INT(store_commit(writer, &err), 0);
    CHECK(!contains(a, va[3], &admin, 5, ia[3][0]));
    CHECK(!contains(a, vb[4], &admin, 5, ib[4][0]));
    /* an ACL move too: not through the old group, even before a catch-up */
    CHECK_INT(top1(a, va[5], &only_a), ia[5][0]);
    CHECK_INT(store_begin(writer, &err), 0);
    CHECK_INT(store_doc_touch(writer, da[5], 1, gb, &err), 0);
    CHECK_INT(store_commit(writer, &err), 0);
    CHECK(!contains(a, va[5], &only_a, 5, ia[5][0]));
    CHECK_INT(store_vindex_catch_up(indexer, &err), 0);
    CHECK(!contains(a, va[5], &only_a, 5, ia[5][0]));
    CHECK_INT(top1(a, va[5], &only_b), ia[5][0]);
    CHECK(!contains(a, vb[4], &admin, 5, ib[4][0]));
    CHECK_INT(top1(a, vb[7], &only_b), ib[7][0]);
    /* what the catch-up made is what SQLite says (written out, then checked) */
    CHECK_INT(vsync(a, 1, NULL), 0);
    rag_strv problems = {0};
    CHECK_INT(store_vindex_check(a, &problems, &err), 0);
    for (size_t i = 0; i < problems.n; i++)
        printf("    problem: %s\n", problems.v[i]);
    CHECK_INT((int)problems.n, 0);
    rag_strv_free(&problems);

    /* searches of both groups go on while another connection writes to b and
     * the indexer catches up in a loop */
    store *b = open_store(path);
    store_vindex_share(b, a);
    volatile int stop = 0;
    searcher w[3] = {{a, va[9], ia[9][0], &stop, 0, 0, 0},
                     {b, vb[9], ib[9][0], &stop, 0, 0, 0},
                     {indexer, NULL, 0, &stop, 0, 0, 0}};
    pthread_t th[3];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, search_loop, &w[i]);
    pthread_create(&th[2], NULL, catch_up_loop, &w[2]);
    for (int round = 0; round < 40; round++) {
        char uri[32];
        int64_t id[1];
        float y[DIMS];
        do
            rnd_vector(y, DIMS);
        while (dot(y, vb[9], DIMS) > 0.5 || dot(y, va[9], DIMS) > 0.5);
        snprintf(uri, sizeof uri, "/bg/more%d", round);
        CHECK_INT(store_begin(writer, &err), 0);
        int64_t doc = put_doc(writer, uri, round % 3 ? gb : ga, 1, y, m, DIMS, id);
        if (round % 2) CHECK_INT(store_doc_delete(writer, doc, &err), 0);
        CHECK_INT(store_commit(writer, &err), 0);
        usleep(2000);
    }
    usleep(20000);
    stop = 1;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(w[i].failed, 0);
        CHECK_INT(w[i].wrong, 0);
        CHECK(w[i].searches > 0);
    }
    CHECK_INT(store_vindex_catch_up(indexer, &err), 0);
    CHECK_INT(vsync(a, 1, NULL), 0);
    CHECK_INT(store_vindex_check(a, &problems, &err), 0);
    for (size_t i = 0; i < problems.n; i++)
        printf("    problem: %s\n", problems.v[i]);
    CHECK_INT((int)problems.n, 0);
    rag_strv_free(&problems);
    rag_principal_free(&only_a);
    rag_principal_free(&only_b);
    store_close(a);
    store_close(b);
    store_close(indexer);
    store_close(writer);
    rag_free(path);
}

int main(void)
{
    double t0 = rag_now_s();
    RUN(test_exact_role_scoped_search);
    RUN(test_errors);
    RUN(test_sync_follows_changes);
    RUN(test_crash_and_damage); /* forks: before anything starts OpenMP threads */
    RUN(test_check_finds_tampering);
    RUN(test_hnsw_large_group);
    RUN(test_shared_connections);
    RUN(test_background_catch_up);
    if (big.s) corpus_free(&big);
    printf("    total %.1fs\n", rag_now_s() - t0);
    return test_summary();
}
