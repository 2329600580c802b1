/* bench/bench_keyword_acl.c: keyword search latency when the documents are
 * spread over many ACL groups (the keyword index has one FTS5 table per
 * group, store/fts_groups.c).
 *
 * CISI's documents are ingested with document i in group g(i mod N), then
 * every CISI query runs through store_search_keyword (best chunk per
 * document, k = 10, snippets) as the administrator (all N groups), as a
 * principal of one group and as a principal of a fifth of the groups.
 *
 * Usage: bench_keyword_acl [--cisi DIR] [--groups N,...] [--rounds N]
 * Timings are never pass/fail. */
#include "base/mem.h"
#include "base/time.h"
#include "ingest/ingest.h"
#include "rag/eval.h"
#include "store/store.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_keyword_acl: %s: %s\n", what, msg);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* p50 and p99 of the queries' latencies as `who`. */
static void measure(store *s, const rag_strv *queries, const rag_principal *who, int rounds,
                    double *p50, double *p99)
{
    size_t n = queries->n * (size_t)rounds;
    double *lat = rag_xcalloc(n, sizeof *lat);
    store_search_params sp;
    store_search_default_params(&sp);
    sp.per_document = 1;
    rag_err err = {0};
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < queries->n; i++) {
            store_hits h;
            double t0 = rag_now_ms();
            if (store_search_keyword(s, queries->v[i], who, &sp, &h, &err)) die("search", err.msg);
            lat[(size_t)r * queries->n + i] = rag_now_ms() - t0;
            store_hits_free(&h);
        }
    qsort(lat, n, sizeof *lat, cmp_double);
    *p50 = lat[n / 2];
    *p99 = lat[(size_t)(0.99 * (double)(n - 1))];
    rag_free(lat);
}

static void principal_of(int first, int count, rag_principal *who)
{
    char roles[4096] = "";
    size_t len = 0;
    for (int g = first; g < first + count; g++)
        len += (size_t)snprintf(roles + len, sizeof roles - len, "%sg%d", g > first ? "," : "", g);
    rag_err err = {0};
    if (rag_principal_from_roles(roles, who, &err)) die("roles", err.msg);
}

int main(int argc, char **argv)
{
    rag_mem_tune();
    const char *cisi = "../shared/testdata/ir/cisi", *groups_csv = "1,20,100";
    int rounds = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cisi") && i + 1 < argc)
            cisi = argv[++i];
        else if (!strcmp(argv[i], "--groups") && i + 1 < argc)
            groups_csv = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else
            die("usage", "bench_keyword_acl [--cisi DIR] [--groups N,...] [--rounds N]");
    }
    rag_err err = {0};
    char path[4300];
    snprintf(path, sizeof path, "%s/queries.tsv", cisi);
    rag_strv qids = {0}, queries = {0}, files = {0};
    if (rag_queries_load(path, &qids, &queries, &err)) die("queries", err.msg);
    snprintf(path, sizeof path, "%s/docs", cisi);
    DIR *d = opendir(path);
    if (!d) die(path, "cannot open");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *f = rag_xasprintf("%s/%s", path, e->d_name);
        rag_strv_push(&files, f);
        rag_free(f);
    }
    closedir(d);
    qsort(files.v, files.n, sizeof *files.v, cmp_str);

    char tmpl[] = "/tmp/ragbench.XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) die("mkdtemp", "failed");
    printf("keyword search on CISI (%zu queries x %d rounds, k = 10, per document, snippets)\n",
           queries.n, rounds);
    printf("%8s  %-28s %10s %10s\n", "groups", "principal", "p50 ms", "p99 ms");
    rag_strv counts = {0};
    rag_strv_split(&counts, groups_csv, ',');
    for (size_t c = 0; c < counts.n; c++) {
        int n_groups = atoi(counts.v[c]);
        if (n_groups < 1) die("groups", counts.v[c]);
        char db[4400];
        snprintf(db, sizeof db, "%s/cisi-%d.db", dir, n_groups);
        store *s;
        if (store_open(db, NULL, &s, &err)) die("open", err.msg);
        for (int g = 0; g < n_groups; g++) {
            const char **paths = rag_xcalloc(files.n, sizeof *paths);
            size_t n = 0;
            for (size_t i = (size_t)g; i < files.n; i += (size_t)n_groups)
                paths[n++] = files.v[i];
            char label[32];
            snprintf(label, sizeof label, "g%d", g);
            rag_strv labels = {0};
            rag_strv_push(&labels, label);
            ing_params p;
            ing_default_params(&p);
            p.labels = &labels;
            ing_report rep;
            if (n && ing_run(s, paths, n, &p, &rep, &err)) die("ingest", err.msg);
            rag_strv_free(&labels);
            rag_free(paths);
        }
        rag_principal admin, one, fifth;
        rag_principal_admin(&admin);
        principal_of(0, 1, &one);
        int nf = n_groups / 5 ? n_groups / 5 : 1;
        principal_of(0, nf, &fifth);
        double p50, p99;
        measure(s, &queries, &admin, rounds, &p50, &p99);
        printf("%8d  %-28s %10.3f %10.3f\n", n_groups, "administrator (all groups)", p50, p99);
        measure(s, &queries, &one, rounds, &p50, &p99);
        printf("%8d  %-28s %10.3f %10.3f\n", n_groups, "one group", p50, p99);
        char what[64];
        snprintf(what, sizeof what, "%d group%s", nf, nf > 1 ? "s" : "");
        measure(s, &queries, &fifth, rounds, &p50, &p99);
        printf("%8d  %-28s %10.3f %10.3f\n", n_groups, what, p50, p99);
        fflush(stdout);
        rag_principal_free(&one);
        rag_principal_free(&fifth);
        store_close(s);
        unlink(db);
        char aux[4500];
        snprintf(aux, sizeof aux, "%s-wal", db);
        unlink(aux);
        snprintf(aux, sizeof aux, "%s-shm", db);
        unlink(aux);
        snprintf(aux, sizeof aux, "%s.vectors", db);
        rmdir(aux);
    }
    rmdir(dir);
    rag_strv_free(&counts);
    rag_strv_free(&qids);
    rag_strv_free(&queries);
    rag_strv_free(&files);
    return 0;
}
