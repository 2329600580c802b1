/* bench/bench_keyword_scale.c: keyword search on a large generated corpus,
 * next to a plain FTS5 table built from the same text in the same run.
 *
 * The corpus: N chunks (10 per document, 30 to 50 words each) drawn from a
 * vocabulary of 50,000 made-up words with a Zipf distribution (s = 1), so
 * the most common word is in nearly every chunk and the rarest in a few.
 * It is generated once and kept (rag database and plain FTS5 table) under
 * --cache (default build/bench/kwcorpus), keyed by N.
 *
 * The queries mix rare, middling and very common words (by Zipf rank); each
 * kind runs through store_search_keyword (administrator, best chunk per
 * document, k = 10, snippets) with bounded work for common words, with
 * exhaustive scoring, and as the plain query (porter unicode61, OR of the
 * words, ORDER BY rank LIMIT 10 with snippet()). The report gives p50/p99
 * per kind and overall, their ratios, where rag's time goes (statistics,
 * ranking, fields, snippets), and how many top-10 lists of the bounded path
 * differ from exhaustive scoring (expected 0).
 *
 * Usage: bench_keyword_scale [--chunks N] [--cache DIR] [--rounds N]
 *          [--print-db]        generates when missing, prints the database
 *          [--print-queries]   the queries, "kind<TAB>text" per line
 * Timings are never pass/fail. */
#include "base/buf.h"
#include "base/mem.h"
#include "base/time.h"
#include "store/store.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VOCAB 50000
#define PER_DOC 10

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_keyword_scale: %s: %s\n", what, msg);
    exit(1);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* Word of Zipf rank r (0: most common): consonant-vowel syllables. */
static void word_of(int r, char *out)
{
    static const char cons[] = "bdfgklmnprstvz", vow[] = "aeiou";
    int n = 0, x = r + 1;
    do {
        out[n++] = cons[x % 14];
        x /= 14;
        out[n++] = vow[x % 5];
        x /= 5;
    } while (x > 0 || n < 4);
    out[n++] = 'x'; /* porter leaves words ending in x alone */
    out[n] = 0;
}

static double *zipf_cdf(void)
{
    double *c = rag_xcalloc(VOCAB, sizeof *c), sum = 0;
    for (int i = 0; i < VOCAB; i++)
        c[i] = (sum += 1.0 / (i + 1));
    for (int i = 0; i < VOCAB; i++)
        c[i] /= sum;
    return c;
}

static int draw(const double *cdf)
{
    double u = (double)(next_rand() >> 11) / 9007199254740992.0;
    int lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void generate(const char *db, const char *plain, size_t n_chunks)
{
    double *cdf = zipf_cdf();
    unlink(db);
    unlink(plain);
    store *s;
    rag_err err = {0};
    if (store_open(db, NULL, &s, &err)) die("open", err.msg);
    rag_strv none = {0};
    int64_t group;
    if (store_begin(s, &err) || store_acl_group(s, &none, &group, &err) || store_commit(s, &err))
        die("group", err.msg);
    sqlite3 *b;
    if (sqlite3_open(plain, &b) != SQLITE_OK) die("plain", sqlite3_errmsg(b));
    sqlite3_exec(b,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
                 "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61'); BEGIN",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(b, "INSERT INTO t(rowid, body) VALUES (?1, ?2)", -1, &ins, NULL);
    rag_buf text[PER_DOC] = {{0}};
    store_chunk_in ch[PER_DOC];
    char w[32];
    double t0 = rag_now_s();
    size_t n_docs = (n_chunks + PER_DOC - 1) / PER_DOC;
    if (store_begin(s, &err)) die("begin", err.msg);
    for (size_t d = 0; d < n_docs; d++) {
        memset(ch, 0, sizeof ch);
        size_t off = 0;
        for (int c = 0; c < PER_DOC; c++) {
            rag_buf_clear(&text[c]);
            int n = 30 + (int)(next_rand() % 21);
            for (int i = 0; i < n; i++) {
                word_of(draw(cdf), w);
                rag_buf_printf(&text[c], "%s%s", i ? " " : "", w);
            }
            rag_buf_puts(&text[c], ".");
            ch[c].text = text[c].data;
            ch[c].len = text[c].len;
            ch[c].n_tokens = (size_t)n;
            ch[c].byte_start = off;
            ch[c].byte_end = off += text[c].len + 1;
            ch[c].heading_path = "";
            sqlite3_bind_int64(ins, 1, (int64_t)(d * PER_DOC + (size_t)c + 1));
            sqlite3_bind_text(ins, 2, text[c].data, (int)text[c].len, SQLITE_STATIC);
            sqlite3_step(ins);
            sqlite3_reset(ins);
        }
        char uri[64], hash[65];
        snprintf(uri, sizeof uri, "/gen/doc%07zu.txt", d);
        snprintf(hash, sizeof hash, "%064zx", d);
        store_doc_in doc = {.uri = uri,
                            .title = uri + 5,
                            .mime = "text/plain",
                            .content_hash = hash,
                            .size = (int64_t)off,
                            .acl_group = group};
        int64_t id;
        if (store_doc_replace(s, &doc, ch, PER_DOC, 0, 0, &id, &err)) die("doc", err.msg);
        if (d % 2000 == 1999) {
            if (store_commit(s, &err) || store_begin(s, &err)) die("commit", err.msg);
            sqlite3_exec(b, "COMMIT; BEGIN", NULL, NULL, NULL);
            fprintf(stderr, "\r  generated %zu of %zu chunks", (d + 1) * PER_DOC, n_chunks);
        }
    }
    if (store_commit(s, &err)) die("commit", err.msg);
    sqlite3_exec(b, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(ins);
    sqlite3_close(b);
    store_close(s);
    for (int c = 0; c < PER_DOC; c++)
        rag_buf_free(&text[c]);
    rag_free(cdf);
    fprintf(stderr, "\r  generated %zu chunks in %.0f s\n", n_docs * PER_DOC, rag_now_s() - t0);
}

/* query kinds: Zipf ranks of their words (one query per base offset) */
typedef struct kind {
    const char *name;
    int ranks[3];
    int n;
} kind;

static const kind kinds[] = {
    {"rare (1 word)", {8000}, 1},
    {"middling (1 word)", {300}, 1},
    {"very common (1 word)", {0}, 1},
    {"common (1 word)", {20}, 1},
    {"rare + middling", {6000, 400}, 2},
    {"very common + middling + rare", {0, 200, 4000}, 3},
    {"common + rare + rare", {10, 3000, 9000}, 3},
    {"two middling", {150, 700}, 2},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])
#define PER_KIND 8

static void make_query(const kind *k, int v, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < k->n; i++) {
        char w[32];
        /* neighbours of the rank, by variant: the common words stay common */
        int r = k->ranks[i] + v * (k->ranks[i] < 5 ? 1 : k->ranks[i] / 20 + 1);
        word_of(r, w);
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", w);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    double *c = rag_xcalloc(n, sizeof *c);
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    size_t i = (size_t)ceil(p * (double)n) - 1;
    double r = c[i < n ? i : n - 1];
    rag_free(c);
    return r;
}

static char *or_query(const char *q)
{
    rag_buf b = {0};
    const char *p = q;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *s = p;
        while (*p && *p != ' ')
            p++;
        if (p > s) rag_buf_printf(&b, "%s\"%.*s\"", b.len ? " OR " : "", (int)(p - s), s);
    }
    return rag_buf_steal(&b);
}

int main(int argc, char **argv)
{
    rag_mem_tune();
    size_t n_chunks = 500000;
    int rounds = 3, print_db = 0;
    const char *cache = "build/bench/kwcorpus";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--chunks") && i + 1 < argc)
            n_chunks = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--cache") && i + 1 < argc)
            cache = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--print-db"))
            print_db = 1;
        else if (!strcmp(argv[i], "--print-queries"))
            print_db = 2;
        else
            die("usage", "bench_keyword_scale [--chunks N] [--cache DIR] [--rounds N] "
                         "[--print-db] [--print-queries]");
    }
    if (n_chunks < PER_DOC || rounds < 1) die("usage", "--chunks >= 10, --rounds >= 1");
    mkdir(cache, 0700);
    char db[4200], plain[4200], done[4200];
    snprintf(db, sizeof db, "%s/kw-%zu.db", cache, n_chunks);
    snprintf(plain, sizeof plain, "%s/kw-%zu-plain.db", cache, n_chunks);
    snprintf(done, sizeof done, "%s/kw-%zu.done", cache, n_chunks);
    if (access(done, F_OK) != 0) {
        fprintf(stderr, "bench_keyword_scale: generating %zu chunks into %s\n", n_chunks, cache);
        generate(db, plain, n_chunks);
        FILE *f = fopen(done, "w");
        if (f) fclose(f);
    }
    if (print_db == 1) printf("%s\n", db);
    for (size_t k = 0; print_db == 2 && k < N_KINDS; k++)
        for (int v = 0; v < PER_KIND; v++) {
            char q[256];
            make_query(&kinds[k], v, q, sizeof q);
            printf("%s\t%s\n", kinds[k].name, q);
        }
    if (print_db) return 0;

    store *s;
    rag_err err = {0};
    if (store_open(db, NULL, &s, &err)) die("open", err.msg);
    sqlite3 *b;
    if (sqlite3_open_v2(plain, &b, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die("plain", sqlite3_errmsg(b));
    sqlite3_stmt *pq;
    if (sqlite3_prepare_v2(b,
                           "SELECT rowid, snippet(t, 0, '[', ']', '…', 40) FROM t WHERE t MATCH ?1 "
                           "ORDER BY rank LIMIT 10",
                           -1, &pq, NULL) != SQLITE_OK)
        die("plain query", sqlite3_errmsg(b));
    rag_principal who;
    rag_principal_admin(&who);
    store_search_params fast, full;
    store_search_default_params(&fast);
    fast.per_document = 1;
    full = fast;
    full.exhaustive = 1;

    size_t nq = N_KINDS * PER_KIND, n = nq * (size_t)rounds;
    double *lf = rag_xcalloc(n, sizeof *lf), *le = rag_xcalloc(n, sizeof *le),
           *lp = rag_xcalloc(n, sizeof *lp);
    /* rag's stages, summed per kind (last: all) */
    double st_ms[N_KINDS + 1] = {0}, rk_ms[N_KINDS + 1] = {0}, fe_ms[N_KINDS + 1] = {0},
                           sn_ms[N_KINDS + 1] = {0};
    int bounded = 0, differ = 0;
    char q[256];
    printf("keyword search, generated corpus: %zu chunks (Zipf over %d words), %d rounds\n",
           n_chunks, VOCAB, rounds);
    printf("%-32s %9s %9s %9s %9s %9s %9s %7s %7s\n", "queries (8 each)", "rag p50", "rag p99",
           "exh p50", "exh p99", "fts5 p50", "fts5 p99", "r p50", "r p99");
    for (int r = 0; r < rounds; r++)
        for (size_t k = 0; k < N_KINDS; k++)
            for (int v = 0; v < PER_KIND; v++) {
                size_t at = ((size_t)r * N_KINDS + k) * PER_KIND + (size_t)v;
                make_query(&kinds[k], v, q, sizeof q);
                store_hits hf, he;
                char *m = or_query(q);
                if (r == 0) { /* each timed run finds the pages the others read */
                    if (store_search_keyword(s, q, &who, &full, &he, &err)) die("search", err.msg);
                    store_hits_free(&he);
                    sqlite3_bind_text(pq, 1, m, -1, SQLITE_STATIC);
                    while (sqlite3_step(pq) == SQLITE_ROW) {
                    }
                    sqlite3_reset(pq);
                }
                /* the three take turns at going first: the one after
                 * another query finds colder caches than the ones after it */
                for (int j = 0; j < 3; j++) {
                    int which = (j + (int)at) % 3;
                    double t0 = rag_now_ms();
                    if (which == 0) {
                        if (store_search_keyword(s, q, &who, &fast, &hf, &err))
                            die("search", err.msg);
                        lf[at] = rag_now_ms() - t0;
                    } else if (which == 1) {
                        if (store_search_keyword(s, q, &who, &full, &he, &err))
                            die("search", err.msg);
                        le[at] = rag_now_ms() - t0;
                    } else {
                        sqlite3_bind_text(pq, 1, m, -1, SQLITE_STATIC);
                        while (sqlite3_step(pq) == SQLITE_ROW) {
                        }
                        sqlite3_reset(pq);
                        lp[at] = rag_now_ms() - t0;
                    }
                }
                rag_free(m);
                if (r == 0) {
                    int same = hf.n == he.n;
                    for (size_t i = 0; same && i < hf.n; i++)
                        same =
                            hf.v[i].chunk_id == he.v[i].chunk_id && hf.v[i].score == he.v[i].score;
                    differ += !same;
                }
                const size_t into[2] = {k, N_KINDS}; /* its kind, and all */
                for (int x = 0; x < 2; x++) {
                    st_ms[into[x]] += hf.prof.stats_ms, rk_ms[into[x]] += hf.prof.rank_ms;
                    fe_ms[into[x]] += hf.prof.fetch_ms, sn_ms[into[x]] += hf.prof.snippet_ms;
                }
                bounded += hf.prof.bounded;
                store_hits_free(&hf);
                store_hits_free(&he);
            }
    for (size_t k = 0; k <= N_KINDS; k++) {
        /* per kind: the latencies of its queries over every round */
        double *a = rag_xcalloc(n, sizeof *a), *e = rag_xcalloc(n, sizeof *e),
               *p = rag_xcalloc(n, sizeof *p);
        size_t m = 0;
        for (int r = 0; r < rounds; r++)
            for (size_t kk = 0; kk < N_KINDS; kk++)
                for (int v = 0; v < PER_KIND; v++) {
                    if (k < N_KINDS && kk != k) continue;
                    size_t at = ((size_t)r * N_KINDS + kk) * PER_KIND + (size_t)v;
                    a[m] = lf[at], e[m] = le[at], p[m] = lp[at], m++;
                }
        double a50 = pct(a, m, .5), a99 = pct(a, m, .99), p50 = pct(p, m, .5), p99 = pct(p, m, .99);
        printf("%-32s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %7.2f %7.2f\n",
               k < N_KINDS ? kinds[k].name : "all", a50, a99, pct(e, m, .5), pct(e, m, .99), p50,
               p99, a50 / p50, a99 / p99);
        rag_free(a), rag_free(e), rag_free(p);
    }
    printf("\nwhere rag's time goes, mean ms per query\n%-32s %10s %9s %9s %9s\n", "queries",
           "statistics", "ranking", "fields", "snippets");
    for (size_t k = 0; k <= N_KINDS; k++) {
        double m = k < N_KINDS ? (double)rounds * PER_KIND : (double)n;
        printf("%-32s %10.2f %9.2f %9.2f %9.2f\n", k < N_KINDS ? kinds[k].name : "all",
               st_ms[k] / m, rk_ms[k] / m, fe_ms[k] / m, sn_ms[k] / m);
    }
    printf("bounded work for common words in %d of %zu queries; top 10 differing from "
           "exhaustive scoring: %d of %zu\n",
           bounded, n, differ, nq);
    sqlite3_finalize(pq);
    sqlite3_close(b);
    rag_principal_free(&who);
    store_close(s);
    rag_free(lf), rag_free(le), rag_free(lp);
    return 0;
}
