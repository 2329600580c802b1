/* bench/bench_ingest_search.c: ingest throughput and keyword search latency,
 * each next to a baseline measured in the same run on the same machine.
 *
 *   ingest    rag's pipeline (walk, hash, extract, normalise, chunk, FTS5
 *             with the multilingual tokenizer, change log) over a generated
 *             plain-text corpus, against the bare minimum: reading the same
 *             files and inserting each whole file as one row into a plain
 *             FTS5 table (porter unicode61) in one transaction. Each
 *             round (--ingest-rounds, 3) runs the baseline, then rag on one
 *             thread (ingest.threads 1), then rag with its extraction pool
 *             at one thread per CPU (at most 8: the default,
 *             ingest.threads 0), each into a new database; the report
 *             gives the medians over the rounds, and each round's ratios.
 *   search    every CISI query through store_search_keyword (visibility
 *             filter, best chunk per document, k = 10, snippets), against
 *             the same OR-of-words query on a plain one-row-per-document
 *             FTS5 table ordered by bm25(), k = 10, with a snippet for each
 *             of the 10.
 *
 * Usage: bench_ingest_search [--mb N] [--cisi DIR] [--rounds N] [--ingest-rounds N]
 * Prints a human-readable report and, with --json, a JSON object. Timings
 * are never pass/fail. */
#include "base/file.h"
#include "base/mem.h"
#include "base/time.h"
#include "ingest/ingest.h"
#include "rag/eval.h"
#include "store/store.h"

#include <dirent.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench: %s: %s\n", what, msg);
    exit(1);
}

/* Writes ~mb megabytes of English-like text in files of ~20 KB. */
static size_t make_corpus(const char *dir, size_t mb, rag_strv *files)
{
    static const char *words[] = {"the",        "freight",  "depot",    "invoice",     "schedule",
                                  "brake",      "forklift", "approval", "ledger",      "pallet",
                                  "inspection", "driver",   "route",    "maintenance", "supplier",
                                  "payment",    "of",       "and",      "to",          "is",
                                  "for",        "within",   "days",     "must"};
    size_t nw = sizeof words / sizeof words[0], total = 0;
    unsigned seed = 12345;
    char path[4400];
    rag_buf b = {0};
    for (int f = 0; total < mb * 1000000; f++) {
        rag_buf_clear(&b);
        rag_buf_printf(&b, "Generated document %d\n\n", f);
        while (b.len < 20000) {
            int sentence = 8 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 14;
            for (int w = 0; w < sentence; w++) {
                seed = seed * 1103515245 + 12345;
                rag_buf_printf(&b, "%s%s", w ? " " : "", words[(seed >> 16) % nw]);
            }
            rag_buf_puts(&b, (seed >> 8) % 5 == 0 ? ".\n\n" : ". ");
        }
        snprintf(path, sizeof path, "%s/doc%05d.txt", dir, f);
        rag_err err = {0};
        if (rag_file_write_atomic(path, b.data, b.len, &err)) die("write corpus", err.msg);
        rag_strv_push(files, path);
        total += b.len;
    }
    rag_buf_free(&b);
    return total;
}

static double baseline_ingest(const char *db_path, const rag_strv *files)
{
    sqlite3 *db;
    unlink(db_path);
    double t0 = rag_now_s();
    if (sqlite3_open(db_path, &db) != SQLITE_OK) die("baseline open", sqlite3_errmsg(db));
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61');"
                 "BEGIN",
                 NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO t(body) VALUES (?1)", -1, &st, NULL);
    for (size_t i = 0; i < files->n; i++) {
        char *text;
        size_t len;
        rag_err err = {0};
        if (rag_file_read(files->v[i], 0, &text, &len, &err)) die("baseline read", err.msg);
        sqlite3_bind_text(st, 1, text, (int)len, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_reset(st);
        rag_free(text);
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return rag_now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i < n ? i : n - 1];
}

/* The median of v[0..n), v left as it is. */
static double median(const double *v, int n)
{
    double c[16];
    memcpy(c, v, (size_t)n * sizeof *c);
    return pct(c, (size_t)n, 0.5);
}

/* The plain FTS5 query for the baseline: OR of the query's words, quoted. */
static char *or_query(const char *q)
{
    rag_buf b = {0};
    const char *p = q;
    while (*p) {
        while (*p && !((*p | 32) >= 'a' && (*p | 32) <= 'z') && !(*p >= '0' && *p <= '9'))
            p++;
        const char *s = p;
        while (((*p | 32) >= 'a' && (*p | 32) <= 'z') || (*p >= '0' && *p <= '9'))
            p++;
        if (p > s) rag_buf_printf(&b, "%s\"%.*s\"", b.len ? " OR " : "", (int)(p - s), s);
    }
    return rag_buf_steal(&b);
}

int main(int argc, char **argv)
{
    rag_mem_tune();
    size_t mb = 40;
    int rounds = 5, ingest_rounds = 3, json = 0;
    const char *cisi = getenv("RAG_TESTDATA") ? NULL : "../shared/testdata/ir/cisi";
    char cisi_buf[4096];
    if (!cisi) {
        snprintf(cisi_buf, sizeof cisi_buf, "%s/ir/cisi", getenv("RAG_TESTDATA"));
        cisi = cisi_buf;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mb") && i + 1 < argc)
            mb = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cisi") && i + 1 < argc)
            cisi = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ingest-rounds") && i + 1 < argc)
            ingest_rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else
            die("usage", "bench_ingest_search [--mb N] [--cisi DIR] [--rounds N] "
                         "[--ingest-rounds N] [--json]");
    }
    if (ingest_rounds < 1 || ingest_rounds > 16) {
        die("usage", "--ingest-rounds: 1 to 16");
    }
    char tmpl[] = "/tmp/ragbench.XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) die("mkdtemp", "failed");
    char corpus[4200], db[4200], base_db[4200], cisi_db[4200], cisi_base[4200];
    snprintf(corpus, sizeof corpus, "%s/corpus", dir);
    snprintf(db, sizeof db, "%s/rag.db", dir);
    snprintf(base_db, sizeof base_db, "%s/baseline.db", dir);
    snprintf(cisi_db, sizeof cisi_db, "%s/cisi.db", dir);
    snprintf(cisi_base, sizeof cisi_base, "%s/cisi-baseline.db", dir);
    mkdir(corpus, 0700);

    /* ---- ingest ---- */
    rag_strv files = {0};
    size_t bytes = make_corpus(corpus, mb, &files);
    sync();
    /* Rounds of baseline, rag on 1 thread, rag on one per CPU, each into a
     * new database: the medians of the rounds are reported (the baseline,
     * a second long, moves with whatever else the machine does). */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
    double base_v[16], one_v[16], all_v[16], r1_v[16], rn_v[16];
    store *s;
    rag_err err = {0};
    ing_report rep;
    for (int r = 0; r < ingest_rounds; r++) {
        double base = (double)bytes / 1e6 / baseline_ingest(base_db, &files);
        double mbps[2];
        for (int k = 0; k < 2; k++) {
            ing_params p;
            ing_default_params(&p);
            p.threads = k == 0 ? 1 : 0; /* 0, the default: one per CPU, at most 8 */
            const char *paths[] = {corpus};
            unlink(db);
            if (store_open(db, NULL, &s, &err)) die("open", err.msg);
            if (ing_run(s, paths, 1, &p, &rep, &err)) die("ingest", err.msg);
            store_close(s);
            mbps[k] = (double)bytes / 1e6 / rep.seconds;
            char side[4300];
            snprintf(side, sizeof side, "%s-wal", db);
            unlink(side);
            snprintf(side, sizeof side, "%s-shm", db);
            unlink(side);
        }
        base_v[r] = base, one_v[r] = mbps[0], all_v[r] = mbps[1];
        r1_v[r] = mbps[0] / base, rn_v[r] = mbps[1] / base;
    }
    double base_mbps = median(base_v, ingest_rounds), ing1_mbps = median(one_v, ingest_rounds),
           ing_mbps = median(all_v, ingest_rounds), ratio1 = median(r1_v, ingest_rounds),
           ratio = median(rn_v, ingest_rounds);
    ing_params p;
    ing_default_params(&p);

    /* ---- search ---- */
    double p50 = 0, p99 = 0, b50 = 0, b99 = 0;
    size_t nq = 0;
    char qpath[4300];
    snprintf(qpath, sizeof qpath, "%s/queries.tsv", cisi);
    rag_strv qids = {0}, qtexts = {0};
    int have_cisi = access(qpath, R_OK) == 0;
    if (have_cisi) {
        if (rag_queries_load(qpath, &qids, &qtexts, &err)) die("queries", err.msg);
        if (store_open(cisi_db, NULL, &s, &err)) die("open", err.msg);
        char docs[4300];
        snprintf(docs, sizeof docs, "%s/docs", cisi);
        const char *cp[] = {docs};
        if (ing_run(s, cp, 1, &p, &rep, &err)) die("ingest cisi", err.msg);
        nq = qids.n;
        double *lat = rag_xcalloc(nq * (size_t)rounds, sizeof *lat);
        rag_principal who;
        rag_principal_admin(&who);
        store_search_params sp;
        store_search_default_params(&sp);
        sp.per_document = 1;
        for (int r = 0; r < rounds; r++)
            for (size_t i = 0; i < nq; i++) {
                store_hits h;
                double t0 = rag_now_s();
                if (store_search_keyword(s, qtexts.v[i], &who, &sp, &h, &err))
                    die("search", err.msg);
                lat[(size_t)r * nq + i] = (rag_now_s() - t0) * 1e3;
                store_hits_free(&h);
            }
        p50 = pct(lat, nq * (size_t)rounds, 0.50);
        p99 = pct(lat, nq * (size_t)rounds, 0.99);
        store_close(s);

        /* baseline: one row per document, plain FTS5 */
        sqlite3 *bdb;
        unlink(cisi_base);
        sqlite3_open(cisi_base, &bdb);
        sqlite3_exec(bdb,
                     "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61'); BEGIN",
                     NULL, NULL, NULL);
        sqlite3_stmt *ins, *q, *snip;
        sqlite3_prepare_v2(bdb, "INSERT INTO t(body) VALUES (?1)", -1, &ins, NULL);
        DIR *d = opendir(docs);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char fp[4600];
            snprintf(fp, sizeof fp, "%s/%s", docs, e->d_name);
            char *text;
            size_t len;
            if (rag_file_read(fp, 0, &text, &len, &err)) die("read", err.msg);
            sqlite3_bind_text(ins, 1, text, (int)len, SQLITE_TRANSIENT);
            sqlite3_step(ins);
            sqlite3_reset(ins);
            rag_free(text);
        }
        if (d) closedir(d);
        sqlite3_finalize(ins);
        sqlite3_exec(bdb, "COMMIT", NULL, NULL, NULL);
        /* top 10 by BM25, then a snippet for each (as rag does: a snippet()
         * in the ranking query would be computed for every match) */
        sqlite3_prepare_v2(bdb, "SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY bm25(t) LIMIT 10",
                           -1, &q, NULL);
        sqlite3_prepare_v2(bdb,
                           "SELECT snippet(t, 0, '[', ']', '…', 40) FROM t WHERE t MATCH ?1 "
                           "AND rowid = ?2",
                           -1, &snip, NULL);
        for (int r = 0; r < rounds; r++)
            for (size_t i = 0; i < nq; i++) {
                char *m = or_query(qtexts.v[i]);
                double t0 = rag_now_s();
                sqlite3_bind_text(q, 1, m, -1, SQLITE_STATIC);
                while (sqlite3_step(q) == SQLITE_ROW) {
                    sqlite3_bind_text(snip, 1, m, -1, SQLITE_STATIC);
                    sqlite3_bind_int64(snip, 2, sqlite3_column_int64(q, 0));
                    while (sqlite3_step(snip) == SQLITE_ROW) {
                    }
                    sqlite3_reset(snip);
                }
                sqlite3_reset(q);
                lat[(size_t)r * nq + i] = (rag_now_s() - t0) * 1e3;
                rag_free(m);
            }
        sqlite3_finalize(q);
        sqlite3_finalize(snip);
        sqlite3_close(bdb);
        b50 = pct(lat, nq * (size_t)rounds, 0.50);
        b99 = pct(lat, nq * (size_t)rounds, 0.99);
        rag_free(lat);
        rag_principal_free(&who);
    }

    if (json) {
        printf("{\"ingest_mb\": %.1f, \"ingest_threads\": %d, \"ingest_mb_per_s\": %.2f, "
               "\"ingest_1_thread_mb_per_s\": %.2f, \"baseline_mb_per_s\": %.2f, "
               "\"ingest_ratio\": %.3f, \"ingest_1_thread_ratio\": %.3f, \"chunks\": %zu",
               (double)bytes / 1e6, threads, ing_mbps, ing1_mbps, base_mbps, ratio, ratio1,
               rep.chunks);
        if (have_cisi)
            printf(", \"search_queries\": %zu, \"search_p50_ms\": %.3f, \"search_p99_ms\": %.3f, "
                   "\"baseline_p50_ms\": %.3f, \"baseline_p99_ms\": %.3f",
                   nq * (size_t)rounds, p50, p99, b50, b99);
        printf("}\n");
    } else {
        printf("ingest, plain text: %.1f MB in %zu files (medians of %d rounds)\n",
               (double)bytes / 1e6, files.n, ingest_rounds);
        printf("  baseline (read + one FTS5 row per file, one transaction) %7.1f MB/s\n",
               base_mbps);
        printf("  rag ingest, 1 thread    %7.1f MB/s   ratio rag / baseline %5.2f\n", ing1_mbps,
               ratio1);
        printf("  rag ingest, %d thread%s %7.1f MB/s   ratio rag / baseline %5.2f\n", threads,
               threads == 1 ? " " : "s", ing_mbps, ratio);
        printf("  ratios per round (1 thread / %d):", threads);
        for (int r = 0; r < ingest_rounds; r++)
            printf(" %.2f/%.2f", r1_v[r], rn_v[r]);
        printf("\n");
        if (have_cisi) {
            printf("search, CISI (%zu queries x %d rounds, k = 10, snippets)\n", nq, rounds);
            printf("  rag search            p50 %6.3f ms   p99 %6.3f ms\n", p50, p99);
            printf("  baseline (plain FTS5, one row per document) p50 %6.3f ms   p99 %6.3f ms\n",
                   b50, b99);
            printf("  ratio rag / baseline  p50 %6.2f      p99 %6.2f\n", p50 / b50, p99 / b99);
        } else {
            printf("search: CISI not found at %s (set RAG_TESTDATA); skipped\n", cisi);
        }
    }
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", dir);
    rag_strv_free(&files);
    rag_strv_free(&qids);
    rag_strv_free(&qtexts);
    return 0;
}
