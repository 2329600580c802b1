/* bench/bench_vector.c: vector search through the store (store_search_vector:
 * FAISS search of one group's index, then the hit fields from SQLite), flat
 * (exact) against HNSW, on random unit vectors.
 *
 *   bench_vector [--sizes 100000,1000000] [--dims 384] [--queries 500]
 *                [--data random|clustered] [--index flat,hnsw]
 *                [--dir build/bench] [--keep]
 *
 * For each size: a database of that many chunks (one ACL group, documents
 * of 10 chunks, random unit vectors), then
 *   flat       IDMap2,Flat: exact inner product; its answers are the truth
 *   HNSW32     IDMap2,HNSW32 (M = 32) built once, searched with efSearch 64
 *              and 128
 * and per index: build time, index file bytes, growth of resident anonymous
 * memory over the build (the index and FAISS's id maps), search latency p50
 * and p99 over the queries (k = 10, administrator, no snippet; after an
 * untimed pass over the same queries), recall@10
 * against flat. Random vectors in 384 dimensions have no structure to
 * exploit (every point is nearly as far from the query as its nearest
 * neighbours), the worst case for a graph index; --data clustered draws
 * vectors and queries around 1000 random centres instead, closer to what
 * embeddings look like. --index flat leaves HNSW out (its build is the slow
 * part at 1M); flat always runs, its answers being the truth.
 * Searches run on one OpenMP thread (see store/vindex.c); builds use all. */
#include "base/mem.h"
#include "base/time.h"
#include "store/store.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static void rnd_vector(float *v, int dims)
{
    double n = 0;
    for (int i = 0; i < dims; i++) {
        double u1 = ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
        double u2 = ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
        v[i] = (float)(sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
        n += (double)v[i] * v[i];
    }
    n = sqrt(n);
    for (int i = 0; i < dims; i++)
        v[i] = (float)(v[i] / n);
}

/* Clustered data: centre + noise, normalised (centres drawn once). */
static float *centres;
enum { N_CENTRES = 1000 };

static void data_vector(float *v, int dims, int clustered)
{
    rnd_vector(v, dims);
    if (!clustered) return;
    if (!centres) {
        centres = rag_xmalloc((size_t)N_CENTRES * dims * sizeof *centres);
        for (int c = 0; c < N_CENTRES; c++)
            rnd_vector(centres + (size_t)c * dims, dims);
    }
    const float *c = centres + (rnd() % N_CENTRES) * (size_t)dims;
    double n = 0;
    for (int i = 0; i < dims; i++) {
        v[i] = c[i] + 0.6f * v[i];
        n += (double)v[i] * v[i];
    }
    n = sqrt(n);
    for (int i = 0; i < dims; i++)
        v[i] = (float)(v[i] / n);
}

static void die(const char *what, const rag_err *err)
{
    fprintf(stderr, "bench_vector: %s: %s\n", what, err->msg);
    exit(1);
}

static void rm_db(const char *path)
{
    char *p = rag_xasprintf("%s.vectors", path);
    DIR *d = opendir(p);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char *f = rag_xasprintf("%s/%s", p, e->d_name);
            unlink(f);
            rag_free(f);
        }
        closedir(d);
        rmdir(p);
    }
    rag_free(p);
    static const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char *f = rag_xasprintf("%s%s", path, sfx[i]);
        unlink(f);
        rag_free(f);
    }
}

static size_t index_bytes(const char *path)
{
    char *p = rag_xasprintf("%s.vectors", path);
    DIR *d = opendir(p);
    size_t total = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "group-", 6)) continue;
            char *f = rag_xasprintf("%s/%s", p, e->d_name);
            struct stat st;
            if (stat(f, &st) == 0) total += (size_t)st.st_size;
            rag_free(f);
        }
        closedir(d);
    }
    rag_free(p);
    return total;
}

static size_t anon_bytes(void)
{
    size_t anon = 0, file = 0;
    return rag_mem_resident(&anon, &file) == 0 ? anon : 0;
}

static void progress(void *ctx, size_t done, size_t total)
{
    const char *what = ctx;
    if (isatty(2) && (done == total || done % 65536 < 16384))
        fprintf(stderr, "\r  %s: %zu/%zu vectors", what, done, total);
    if (isatty(2) && done == total) fprintf(stderr, "\n");
}

/* size chunks, one group, documents of 10 chunks. */
static store *make_db(const char *path, size_t n, int dims, int clustered, double *secs)
{
    rm_db(path);
    store *s;
    rag_err err = {0};
    if (store_open(path, NULL, &s, &err)) die(path, &err);
    store_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "random-%d", dims);
    snprintf(m.file_sha256, sizeof m.file_sha256, "bench-%d", dims);
    snprintf(m.pooling, sizeof m.pooling, "mean");
    m.dims = dims;
    m.normalized = 1;
    if (store_model_ensure(s, &m, &err) || store_model_set_active(s, m.id, &err))
        die("model", &err);
    rag_strv labels = {0};
    rag_strv_push(&labels, "all");
    int64_t group;
    if (store_acl_group(s, &labels, &group, &err)) die("group", &err);
    rag_strv_free(&labels);
    enum { CPD = 10 };
    float *v = rag_xmalloc((size_t)CPD * dims * sizeof *v);
    store_chunk_in ch[CPD];
    memset(ch, 0, sizeof ch);
    double t0 = rag_now_s();
    if (store_begin(s, &err)) die("begin", &err);
    for (size_t d = 0; d * CPD < n; d++) {
        size_t nc = n - d * CPD < CPD ? n - d * CPD : CPD;
        for (size_t j = 0; j < nc; j++) {
            data_vector(v + j * dims, dims, clustered);
            ch[j] = (store_chunk_in){.text = "x",
                                     .len = 1,
                                     .n_tokens = 1,
                                     .byte_start = j,
                                     .byte_end = j + 1,
                                     .heading_path = "",
                                     .vector = v + j * dims};
        }
        char uri[64];
        snprintf(uri, sizeof uri, "/bench/%zu", d);
        store_doc_in doc = {.uri = uri,
                            .title = uri,
                            .mime = "text/plain",
                            .content_hash = "0",
                            .mtime_ns = 1,
                            .size = 1,
                            .acl_group = group};
        if (store_doc_replace(s, &doc, ch, nc, m.id, dims, NULL, &err)) die("insert", &err);
        if (d % 1000 == 999) {
            if (store_commit(s, &err) || store_begin(s, &err)) die("commit", &err);
            if (isatty(2)) fprintf(stderr, "\r  insert: %zu/%zu", (d + 1) * CPD, n);
        }
    }
    if (store_commit(s, &err)) die("commit", &err);
    if (isatty(2)) fprintf(stderr, "\n");
    *secs = rag_now_s() - t0;
    rag_free(v);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct run {
    double p50, p99;
    double recall;
} run;

/* Searches every query twice, timing the second pass (the first warms the
 * caches: index pages, SQLite's pages of the hits); ids (nq x 10) receive
 * the answers; recall against truth when given. */
static run search_all(store *s, const float *qs, size_t nq, int dims, int64_t *ids,
                      const int64_t *truth)
{
    rag_principal admin;
    rag_principal_admin(&admin);
    store_search_params p;
    store_search_default_params(&p);
    p.k = 10;
    p.want_snippet = 0;
    double *lat = rag_xmalloc(nq * sizeof *lat);
    size_t found = 0;
    for (size_t i = 0; i < nq; i++) { /* warm-up */
        store_hits h;
        rag_err err = {0};
        if (store_search_vector(s, qs + i * dims, dims, &admin, &p, &h, &err)) die("search", &err);
        store_hits_free(&h);
    }
    for (size_t i = 0; i < nq; i++) {
        store_hits h;
        rag_err err = {0};
        double t0 = rag_now_s();
        if (store_search_vector(s, qs + i * dims, dims, &admin, &p, &h, &err)) die("search", &err);
        lat[i] = rag_now_s() - t0;
        for (size_t j = 0; j < 10; j++)
            ids[i * 10 + j] = j < h.n ? h.v[j].chunk_id : -1;
        if (truth)
            for (size_t j = 0; j < h.n; j++)
                for (size_t t = 0; t < 10; t++)
                    if (h.v[j].chunk_id == truth[i * 10 + t]) found++;
        store_hits_free(&h);
    }
    qsort(lat, nq, sizeof *lat, cmp_double);
    run r = {lat[nq / 2] * 1e3, lat[(size_t)((double)nq * 0.99)] * 1e3,
             truth ? (double)found / (double)(nq * 10) : 1.0};
    rag_free(lat);
    return r;
}

static void row(size_t n, const char *kind, double build, size_t bytes, size_t rss, run r)
{
    char b[32];
    if (build >= 0)
        snprintf(b, sizeof b, "%8.1f", build);
    else
        snprintf(b, sizeof b, "%8s", "-");
    printf("%9zu  %-16s %s %10.1f %10.1f %9.3f %9.3f %10.3f\n", n, kind, b, (double)bytes / 1e6,
           (double)rss / 1e6, r.p50, r.p99, r.recall);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    rag_mem_tune();
    const char *sizes = "100000", *dir = "build/bench";
    int dims = 384, keep = 0, clustered = 0, want_hnsw = 1;
    size_t nq = 500;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
            sizes = argv[++i];
        else if (!strcmp(argv[i], "--dims") && i + 1 < argc)
            dims = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
            nq = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--keep"))
            keep = 1;
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            clustered = !strcmp(argv[++i], "clustered");
        else if (!strcmp(argv[i], "--index") && i + 1 < argc) /* flat always: it is the truth */
            want_hnsw = strstr(argv[++i], "hnsw") != NULL;
        else {
            fprintf(stderr, "usage: bench_vector [--sizes N,N...] [--dims D] [--queries Q] "
                            "[--data random|clustered] [--index flat,hnsw] [--dir DIR] [--keep]\n");
            return 2;
        }
    }
    if (dims < 1 || dims > 4096 || nq < 10) return 2;
    mkdir(dir, 0755);
    float *qs = rag_xmalloc(nq * (size_t)dims * sizeof *qs);
    for (size_t i = 0; i < nq; i++)
        data_vector(qs + i * dims, dims, clustered);
    int64_t *truth = rag_xmalloc(nq * 10 * sizeof *truth),
            *ids = rag_xmalloc(nq * 10 * sizeof *ids);
    printf("vector search, %d dims, %s unit vectors, %zu queries, k = 10, one OpenMP thread per "
           "search, %ld cores for builds\n",
           dims, clustered ? "clustered" : "random", nq, sysconf(_SC_NPROCESSORS_ONLN));
    printf("%9s  %-16s %8s %10s %10s %9s %9s %10s\n", "vectors", "index", "build s", "file MB",
           "RSS +MB", "p50 ms", "p99 ms", "recall@10");
    rag_strv list = {0};
    rag_strv_split(&list, sizes, ',');
    for (size_t li = 0; li < list.n; li++) {
        size_t n = (size_t)atol(list.v[li]);
        if (n < 10) continue;
        char *path = rag_xasprintf("%s/vectors-%zu.db", dir, n);
        double t_ins;
        store *s = make_db(path, n, dims, clustered, &t_ins);
        fprintf(stderr, "  %zu vectors inserted into SQLite in %.1f s\n", n, t_ins);
        rag_err err = {0};
        store_vindex_params vp;

        /* flat: exact */
        store_vindex_default_params(&vp);
        vp.large_group = (size_t)-1;
        store_vindex_configure(s, &vp);
        size_t a0 = anon_bytes();
        double t0 = rag_now_s();
        if (store_vindex_rebuild(s, progress, "flat", &err)) die("flat build", &err);
        double tb = rag_now_s() - t0;
        size_t grow = anon_bytes() - a0;
        run r = search_all(s, qs, nq, dims, truth, NULL);
        row(n, "flat (exact)", tb, index_bytes(path), grow, r);

        /* HNSW32, efSearch 64 then 128 (a search-time setting: no rebuild).
         * Closing the store first frees the flat index. */
        if (!want_hnsw) {
            store_close(s);
            if (!keep) rm_db(path);
            rag_free(path);
            continue;
        }
        store_close(s);
        if (store_open(path, NULL, &s, &err)) die(path, &err);
        vp.large_group = 0;
        vp.large_factory = "HNSW32";
        vp.ef_search = 64;
        store_vindex_configure(s, &vp);
        a0 = anon_bytes();
        t0 = rag_now_s();
        if (store_vindex_rebuild(s, progress, "HNSW32", &err)) die("HNSW build", &err);
        tb = rag_now_s() - t0;
        grow = anon_bytes() - a0;
        size_t bytes = index_bytes(path);
        r = search_all(s, qs, nq, dims, ids, truth);
        row(n, "HNSW32 ef=64", tb, bytes, grow, r);
        vp.ef_search = 128;
        store_vindex_configure(s, &vp);
        r = search_all(s, qs, nq, dims, ids, truth);
        row(n, "HNSW32 ef=128", -1, bytes, grow, r);
        store_close(s);
        if (!keep) rm_db(path);
        rag_free(path);
    }
    rag_strv_free(&list);
    rag_free(qs);
    rag_free(truth);
    rag_free(ids);
    return 0;
}
