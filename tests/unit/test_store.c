/* Store: schema, documents and chunks, keyword search with visibility,
 * multilingual tokenization, FTS syntax safety, change log, checks,
 * checkpoints beside a bulk writer, answers and their ratings. */
#include "store/store.h"
#include "base/mem.h"
#include "base/time.h"
#include "test.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static store *open_fresh(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.db", test_tmpdir(), name);
    unlink(path);
    store *s = NULL;
    rag_err err = {0};
    if (store_open(path, NULL, &s, &err) != 0) {
        printf("    open %s: %s\n", path, err.msg);
        exit(2);
    }
    return s;
}

static int64_t group_of(store *s, const char *csv)
{
    rag_strv labels = {0};
    rag_err err = {0};
    CHECK_INT(rag_labels_parse(csv, "test", &labels, &err), 0);
    int64_t g = -1;
    CHECK_INT(store_acl_group(s, &labels, &g, &err), 0);
    rag_strv_free(&labels);
    return g;
}

/* Adds a one-chunk-per-paragraph document; paragraphs separated by '|'. */
static int64_t add_doc(store *s, const char *uri, const char *labels, const char *paras)
{
    rag_strv parts = {0};
    rag_strv_split(&parts, paras, '|');
    store_chunk_in *ch = rag_xcalloc(parts.n, sizeof *ch);
    size_t off = 0;
    for (size_t i = 0; i < parts.n; i++) {
        ch[i].text = parts.v[i];
        ch[i].len = strlen(parts.v[i]);
        ch[i].n_tokens = 1;
        ch[i].byte_start = off;
        ch[i].byte_end = off + ch[i].len;
        off += ch[i].len + 2;
        ch[i].heading_path = "";
    }
    store_doc_in d = {.uri = uri,
                      .title = uri,
                      .mime = "text/plain",
                      .content_hash = "00",
                      .mtime_ns = 1,
                      .size = 1,
                      .acl_group = group_of(s, labels)};
    rag_err err = {0};
    int64_t id = 0;
    CHECK_INT(store_begin(s, &err), 0);
    int rc = store_doc_replace(s, &d, ch, parts.n, 0, 0, &id, &err);
    if (rc) printf("    %s\n", err.msg);
    CHECK_INT(rc, 0);
    CHECK_INT(store_commit(s, &err), 0);
    rag_free(ch);
    rag_strv_free(&parts);
    return id;
}

static size_t search(store *s, const char *q, const rag_principal *who, size_t k, store_hits *h)
{
    store_search_params p;
    store_search_default_params(&p);
    p.k = k;
    rag_err err = {0};
    int rc = store_search_keyword(s, q, who, &p, h, &err);
    if (rc) printf("    search '%s': %s\n", q, err.msg);
    CHECK_INT(rc, 0);
    return h->n;
}

static size_t count_hits(store *s, const char *q, const rag_principal *who)
{
    store_hits h;
    size_t n = search(s, q, who, 100, &h);
    store_hits_free(&h);
    return n;
}

static void test_schema_version_and_reopen(void)
{
    store *s = open_fresh("reopen");
    char *path = rag_xstrdup(store_path(s));
    add_doc(s, "/a.txt", "staff", "hello world");
    store_close(s);
    rag_err err = {0};
    CHECK_INT(store_open(path, NULL, &s, &err), 0);
    rag_principal admin;
    rag_principal_admin(&admin);
    CHECK_INT(count_hits(s, "hello", &admin), 1);
    store_close(s);
    rag_free(path);
}

static void test_replace_and_delete(void)
{
    store *s = open_fresh("replace");
    rag_principal admin;
    rag_principal_admin(&admin);
    int64_t id = add_doc(s, "/doc.txt", "staff", "the old kettle|boils water");
    CHECK_INT(count_hits(s, "kettle", &admin), 1);
    int64_t id2 = add_doc(s, "/doc.txt", "staff", "a new teapot");
    CHECK_INT(id2, id);
    CHECK_INT(count_hits(s, "kettle", &admin), 0);
    CHECK_INT(count_hits(s, "teapot", &admin), 1);
    store_doc d;
    rag_err err = {0};
    CHECK_INT(store_doc_get(s, id, NULL, &d, &err), 1);
    CHECK_INT(d.n_chunks, 1);
    store_doc_free(&d);
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_doc_delete(s, id, &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK_INT(count_hits(s, "teapot", &admin), 0);
    CHECK_INT(store_doc_get(s, id, NULL, &d, &err), 0);
    rag_strv problems = {0};
    CHECK_INT(store_check(s, &problems, &err), 0);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);
    store_close(s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A document the principal may not see is found exactly as one that does
 * not exist: the same answer, and (reported, not asserted: timings on a
 * shared machine are noisy) the same time. */
static void test_hidden_as_missing(void)
{
    store *s = open_fresh("hidden");
    int64_t hidden = add_doc(s, "/fin.txt", "finance", "the ledger");
    add_doc(s, "/ops.txt", "ops", "the crane");
    add_doc(s, "/both.txt", "ops,staff", "the roster");
    int64_t missing = hidden + 1000;
    rag_principal ops;
    rag_err err = {0};
    CHECK_INT(rag_principal_from_roles("ops,staff", &ops, &err), 0);
    store_doc d;
    CHECK_INT(store_doc_get(s, hidden, &ops, &d, &err), 0);
    int64_t steps_hidden = store_doc_lookup_steps(s);
    CHECK_INT(store_doc_get(s, missing, &ops, &d, &err), 0);
    int64_t steps_missing = store_doc_lookup_steps(s);
    printf("    SQLite steps: hidden %lld, missing %lld\n", (long long)steps_hidden,
           (long long)steps_missing);
    /* the same work but for reading the row's group (a step or two per visible group) */
    CHECK(steps_hidden >= steps_missing && steps_hidden - steps_missing <= 8);
    CHECK_INT(store_doc_get(s, hidden + 1, &ops, &d, &err), 1); /* its own */
    store_doc_free(&d);
    CHECK_INT(store_doc_get(s, hidden + 2, &ops, &d, &err), 1);
    store_doc_free(&d);
    enum { N = 4000 };
    static double th[N], tm[N];
    for (int i = 0; i < N; i++) { /* interleaved, so that drift hits both */
        double t0 = rag_now_ms() * 1e3;
        store_doc_get(s, hidden, &ops, &d, &err);
        double t1 = rag_now_ms() * 1e3;
        store_doc_get(s, missing, &ops, &d, &err);
        double t2 = rag_now_ms() * 1e3;
        th[i] = t1 - t0;
        tm[i] = t2 - t1;
    }
    qsort(th, N, sizeof *th, cmp_double);
    qsort(tm, N, sizeof *tm, cmp_double);
    printf("    store_doc_get over %d samples: hidden median %.2f us, missing median %.2f us "
           "(gap %+.2f us; p10 %.2f/%.2f us)\n",
           N, th[N / 2], tm[N / 2], th[N / 2] - tm[N / 2], th[N / 10], tm[N / 10]);
    rag_principal_free(&ops);
    store_close(s);
}

static void test_visibility_inside_ranking(void)
{
    store *s = open_fresh("acl");
    /* 30 finance chunks rank above every ops chunk (the term is repeated). */
    for (int i = 0; i < 30; i++) {
        char uri[64];
        snprintf(uri, sizeof uri, "/fin/%d.txt", i);
        add_doc(s, uri, "finance", "budget budget budget budget report");
    }
    for (int i = 0; i < 5; i++) {
        char uri[64];
        snprintf(uri, sizeof uri, "/ops/%d.txt", i);
        add_doc(s, uri, "ops", "budget for spare parts and many other words here");
    }
    add_doc(s, "/none.txt", "", "budget without any label");
    rag_principal ops, fin, both, admin;
    rag_err err = {0};
    CHECK_INT(rag_principal_from_roles("ops", &ops, &err), 0);
    CHECK_INT(rag_principal_from_roles("finance", &fin, &err), 0);
    CHECK_INT(rag_principal_from_roles("Finance, ops", &both, &err), 0);
    rag_principal_admin(&admin);

    store_hits h;
    CHECK_INT(search(s, "budget", &ops, 5, &h), 5); /* k visible exist: k come back */
    for (size_t i = 0; i < h.n; i++)
        CHECK(strncmp(h.v[i].uri, "/ops/", 5) == 0);
    store_hits_free(&h);
    CHECK_INT(search(s, "budget", &ops, 10, &h), 5); /* only 5 exist */
    store_hits_free(&h);
    CHECK_INT(count_hits(s, "budget", &fin), 30);
    CHECK_INT(count_hits(s, "budget", &both), 35);
    CHECK_INT(count_hits(s, "budget", &admin), 36); /* unlabeled: administrators only */
    CHECK_INT(count_hits(s, "spare", &fin), 0);
    rag_principal_free(&ops);
    rag_principal_free(&fin);
    rag_principal_free(&both);
    store_close(s);
}

static void test_fts_syntax_is_words(void)
{
    store *s = open_fresh("syntax");
    add_doc(s, "/a.txt", "x", "alpha near beta|gamma and delta|star wars");
    rag_principal admin;
    rag_principal_admin(&admin);
    const char *nasty[] = {"\"alpha",
                           "alpha\"",
                           "(alpha",
                           "alpha)",
                           "NEAR(alpha beta)",
                           "alpha NOT beta",
                           "-alpha",
                           "alpha*",
                           "*",
                           "\"\"",
                           "text:alpha",
                           "{text}: alpha",
                           "alpha OR",
                           "AND",
                           "^alpha",
                           "alpha + beta",
                           "'; DROP TABLE chunks; --",
                           "\\",
                           "alpha\x01\xff\xfe"};
    for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
        store_hits h;
        store_search_params p;
        store_search_default_params(&p);
        rag_err err = {0};
        int rc = store_search_keyword(s, nasty[i], &admin, &p, &h, &err);
        if (rc) printf("    query <%s> failed: %s\n", nasty[i], err.msg);
        CHECK_INT(rc, 0);
        store_hits_free(&h);
    }
    CHECK_INT(count_hits(s, "NEAR(alpha beta)", &admin), 1); /* words alpha, beta, near */
    CHECK_INT(count_hits(s, "\"alpha", &admin), 1);
    CHECK_INT(count_hits(s, "and", &admin), 1); /* "and" is a word, not an operator */
    CHECK_INT(count_hits(s, "*", &admin), 0);   /* no word at all: no hits, no error */
    CHECK_INT(count_hits(s, "text:star", &admin), 1);
    store_close(s);
}

static void test_stemming_and_accents(void)
{
    store *s = open_fresh("stem");
    add_doc(s, "/r.txt", "x", "Please attach your résumé to the application|Connected systems");
    rag_principal admin;
    rag_principal_admin(&admin);
    CHECK_INT(count_hits(s, "resume", &admin), 1);
    CHECK_INT(count_hits(s, "RÉSUMÉ", &admin), 1);
    CHECK_INT(count_hits(s, "connecting", &admin), 1);
    CHECK_INT(count_hits(s, "applications", &admin), 1);
    store_close(s);
}

static void test_cjk_and_korean(void)
{
    store *s = open_fresh("cjk");
    add_doc(s, "/ko.txt", "x", "이 모델은 빠르다|모델의 크기는 작다|데이터베이스 설정");
    add_doc(s, "/ja.txt", "x", "東京都の会社で働いています|機械学習モデルを使う");
    add_doc(s, "/zh.txt", "x", "我们使用向量数据库进行检索");
    rag_principal admin;
    rag_principal_admin(&admin);
    CHECK_INT(count_hits(s, "모델", &admin), 2); /* 모델은, 모델의 */
    CHECK_INT(count_hits(s, "모델은", &admin), 1);
    CHECK_INT(count_hits(s, "데이터", &admin), 1); /* prefix of a longer word */
    CHECK_INT(count_hits(s, "東京", &admin), 1);
    CHECK_INT(count_hits(s, "会社", &admin), 1);
    CHECK_INT(count_hits(s, "学習", &admin), 1);
    CHECK_INT(count_hits(s, "モデル", &admin), 1);
    CHECK_INT(count_hits(s, "数据库", &admin), 1);
    CHECK_INT(count_hits(s, "检索", &admin), 1);
    CHECK_INT(count_hits(s, "京都", &admin), 1); /* substring of 東京都 */
    CHECK_INT(count_hits(s, "大阪", &admin), 0);
    /* highlighted snippet keeps the text readable */
    store_hits h;
    CHECK_INT(search(s, "모델", &admin, 10, &h), 2);
    for (size_t i = 0; i < h.n; i++)
        CHECK_CONTAINS(h.v[i].snippet, "[모델");
    store_hits_free(&h);
    store_close(s);
}

static void test_snippet_highlight(void)
{
    store *s = open_fresh("snip");
    add_doc(s, "/s.txt", "x", "Expense reports must be filed within thirty days of travel.");
    rag_principal admin;
    rag_principal_admin(&admin);
    store_hits h;
    CHECK_INT(search(s, "expenses filing", &admin, 10, &h), 1);
    if (h.n) {
        CHECK_CONTAINS(h.v[0].snippet, "[Expense]");
        CHECK_CONTAINS(h.v[0].snippet, "[filed]");
        CHECK(h.v[0].score > 0);
    }
    store_hits_free(&h);
    store_close(s);
}

static int collect_term(void *ctx, const char *t, size_t n, size_t a, size_t b)
{
    (void)a, (void)b;
    rag_strv_pushn(ctx, t, n);
    return 0;
}

static void test_terms_match_index(void)
{
    store *s = open_fresh("terms");
    rag_strv terms = {0};
    rag_err err = {0};
    const char *text = "Connecting Résumés 모델은";
    CHECK_INT(store_terms(s, text, strlen(text), 1, collect_term, &terms, &err), 0);
    char *j = rag_strv_join(&terms, " ");
    CHECK_STR(j, "connect resum 모델 델은");
    rag_free(j);
    rag_strv_free(&terms);
    store_close(s);
}

static void test_change_log(void)
{
    store *s = open_fresh("changes");
    int64_t id = add_doc(s, "/c.txt", "a", "one|two");
    add_doc(s, "/c.txt", "a", "three");
    rag_err err = {0};
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_doc_touch(s, id, 5, group_of(s, "b"), &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    store_stats st;
    CHECK_INT(store_stats_get(s, &st, &err), 0);
    CHECK_INT(st.n_changes, 2 + 2 + 1 + 1); /* add add, del del, add, acl */
    CHECK_INT(st.n_docs, 1);
    CHECK_INT(st.n_groups, 1);
    if (st.n_groups) CHECK_STR(st.groups[0].labels, "b");
    store_stats_free(&st);
    store_close(s);
}

/* Adds n one-chunk documents to the group `labels` in one transaction. */
static void add_many(store *s, const char *prefix, const char *labels, int n, const char *text)
{
    rag_err err = {0};
    int64_t g = group_of(s, labels);
    CHECK_INT(store_begin(s, &err), 0);
    for (int i = 0; i < n; i++) {
        char uri[96], body[256];
        snprintf(uri, sizeof uri, "%s/%d.txt", prefix, i);
        snprintf(body, sizeof body, "%s number %d", text, i);
        store_chunk_in ch = {.text = body,
                             .len = strlen(body),
                             .n_tokens = 1,
                             .byte_end = strlen(body),
                             .heading_path = ""};
        store_doc_in d = {.uri = uri,
                          .title = uri,
                          .mime = "text/plain",
                          .content_hash = "00",
                          .mtime_ns = 1,
                          .size = 1,
                          .acl_group = g};
        CHECK_INT(store_doc_replace(s, &d, &ch, 1, 0, 0, NULL, &err), 0);
    }
    CHECK_INT(store_commit(s, &err), 0);
}

/* The time of a search must not depend on documents the principal cannot
 * see: a word held by 3,000 ops chunks and an absent word take the same time
 * for a finance principal (alternating samples, ratio of medians). */
/* Generated text, Zipf-like: word i of a 400-word vocabulary ("w0x" ...)
 * drawn with weight 1/(i+1); documents of 3 chunks in two ACL groups. The
 * bounded path (common words scored only where rarer ones match) must give
 * the very top 10 of exhaustive scoring, scores included, for mixes of
 * rare and very common words, for the administrator and for a principal of
 * one group, per chunk and per document. */
static void test_bounded_equals_exhaustive(void)
{
    store *s = open_fresh("bounded");
    rag_err err = {0};
    int64_t g[2] = {group_of(s, "red"), group_of(s, "blue")};
    double cdf[400], sum = 0;
    for (int i = 0; i < 400; i++)
        cdf[i] = (sum += 1.0 / (i + 1));
    unsigned seed = 7;
    CHECK_INT(store_begin(s, &err), 0);
    for (int d = 0; d < 1200; d++) {
        char text[3][600], uri[64];
        store_chunk_in ch[3];
        memset(ch, 0, sizeof ch);
        for (int c = 0; c < 3; c++) {
            size_t len = 0;
            int n = 8 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 20;
            for (int w = 0; w < n; w++) {
                seed = seed * 1103515245 + 12345;
                double u = (double)((seed >> 8) & 0xffffff) / 16777216.0 * sum;
                int i = 0;
                while (i < 399 && cdf[i] < u)
                    i++;
                len += (size_t)snprintf(text[c] + len, sizeof text[c] - len, "%sw%dx", w ? " " : "",
                                        i);
            }
            ch[c].text = text[c];
            ch[c].len = len;
            ch[c].n_tokens = (size_t)n;
            ch[c].heading_path = "";
        }
        snprintf(uri, sizeof uri, "/z/%d.txt", d);
        store_doc_in in = {.uri = uri,
                           .title = uri,
                           .mime = "text/plain",
                           .content_hash = "00",
                           .mtime_ns = 1,
                           .size = 1,
                           .acl_group = g[d % 2]};
        CHECK_INT(store_doc_replace(s, &in, ch, 3, 0, 0, NULL, &err), 0);
    }
    CHECK_INT(store_commit(s, &err), 0);
    rag_principal admin, red;
    rag_principal_admin(&admin);
    CHECK_INT(rag_principal_from_roles("red", &red, &err), 0);
    const char *queries[] = {
        "w0x w150x", "w0x w1x w200x w390x", "w0x w0x w120x", "w2x w80x w300x",
        "w0x w3x",   "w1x w399x",           "w0x w7x w60x",  "w5x w5x w250x w9x"};
    const rag_principal *who[2] = {&admin, &red};
    int differ = 0, bounded = 0, compared = 0;
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++)
        for (int w = 0; w < 2; w++)
            for (int per_doc = 0; per_doc < 2; per_doc++) {
                store_search_params p;
                store_search_default_params(&p);
                p.per_document = per_doc;
                p.want_snippet = 0;
                store_hits fast, full;
                CHECK_INT(store_search_keyword(s, queries[q], who[w], &p, &fast, &err), 0);
                p.exhaustive = 1;
                CHECK_INT(store_search_keyword(s, queries[q], who[w], &p, &full, &err), 0);
                int same = fast.n == full.n && fast.n == 10;
                for (size_t i = 0; same && i < fast.n; i++)
                    same = fast.v[i].chunk_id == full.v[i].chunk_id &&
                           fast.v[i].score == full.v[i].score;
                differ += !same;
                bounded += fast.prof.bounded;
                compared++;
                store_hits_free(&fast);
                store_hits_free(&full);
            }
    printf("    %d searches compared, %d took the bounded path\n", compared, bounded);
    CHECK_INT(differ, 0);
    CHECK(bounded > compared / 4); /* the comparison is not vacuous */
    rag_principal_free(&red);
    store_close(s);
}

/* More visible groups than the connection caches statements (one ranking
 * statement per group): results stay right, per document too, and no
 * statement in use is finalized under the search (ASan would say). */
static void test_many_groups(void)
{
    store *s = open_fresh("groups");
    rag_err err = {0};
    for (int g = 0; g < 45; g++) {
        char uri[64], label[16];
        snprintf(label, sizeof label, "l%d", g);
        for (int d = 0; d < 2; d++) {
            snprintf(uri, sizeof uri, "/g%d/%d.txt", g, d);
            add_doc(s, uri, label,
                    g % 3 ? "pump maintenance log|valve pump inspection"
                          : "pump pump pump overhaul|pump seal");
        }
    }
    rag_principal admin;
    rag_principal_admin(&admin);
    for (int per_doc = 0; per_doc < 2; per_doc++) {
        store_search_params p;
        store_search_default_params(&p);
        p.per_document = per_doc;
        p.k = 20;
        store_hits fast, full;
        CHECK_INT(store_search_keyword(s, "pump inspection", &admin, &p, &fast, &err), 0);
        p.exhaustive = 1;
        CHECK_INT(store_search_keyword(s, "pump inspection", &admin, &p, &full, &err), 0);
        CHECK_INT((int)fast.n, 20);
        int same = fast.n == full.n;
        for (size_t i = 0; same && i < fast.n; i++)
            same = fast.v[i].chunk_id == full.v[i].chunk_id && fast.v[i].score == full.v[i].score;
        CHECK(same);
        for (size_t i = 1; per_doc && i < fast.n; i++)
            for (size_t j = 0; j < i; j++)
                CHECK(fast.v[i].document_id != fast.v[j].document_id);
        store_hits_free(&fast);
        store_hits_free(&full);
    }
    store_close(s);
}

static void test_search_time_ignores_invisible(void)
{
    store *s = open_fresh("timing");
    add_many(s, "/ops", "ops", 3000, "turbine maintenance schedule for the plant");
    add_many(s, "/fin", "finance", 200, "quarterly budget and expense report");
    rag_principal fin;
    rag_err err = {0};
    CHECK_INT(rag_principal_from_roles("finance", &fin, &err), 0);
    store_search_params p;
    store_search_default_params(&p);
    enum { N = 301 };
    static double t_word[N], t_absent[N];
    const char *queries[2] = {"turbine", "zyxwvut"};
    for (int i = -20; i < N; i++) { /* the first 20 rounds warm the caches */
        for (int q = 0; q < 2; q++) {
            int which = (i & 1) ? 1 - q : q; /* alternate which goes first */
            store_hits h;
            double t0 = rag_now_ms() * 1e3;
            int rc = store_search_keyword(s, queries[which], &fin, &p, &h, &err);
            double dt = rag_now_ms() * 1e3 - t0;
            CHECK_INT(rc, 0);
            CHECK_INT(h.n, 0);
            store_hits_free(&h);
            if (i >= 0) (which ? t_absent : t_word)[i] = dt;
        }
    }
    qsort(t_word, N, sizeof *t_word, cmp_double);
    qsort(t_absent, N, sizeof *t_absent, cmp_double);
    double mw = t_word[N / 2], ma = t_absent[N / 2];
    printf("    finance principal, median of %d: word in 3000 ops chunks %.1f us, absent word "
           "%.1f us, gap %+.1f us (ratio %.2f)\n",
           N, mw, ma, mw - ma, mw / ma);
    CHECK(mw < 1.5 * ma);
    rag_principal_free(&fin);
    store_close(s);
}

/* BM25 statistics come from the groups the principal sees: administrators
 * get the scores of one index over everything, a principal the scores of an
 * index over its groups alone (rag_bm25 over several groups gives FTS5's
 * bm25() over one table, bit for bit). */
static void test_scores_from_visible_groups(void)
{
    const char *a = "the pump failed twice|pump maintenance and pump repair|a quiet day";
    const char *b = "pump prices rose|nothing about machines here|more pump news and pumps";
    store *split = open_fresh("split");
    add_doc(split, "/a.txt", "alpha", a);
    add_doc(split, "/b.txt", "beta", b);
    store *one = open_fresh("onegroup");
    add_doc(one, "/a.txt", "alpha", a);
    add_doc(one, "/b.txt", "alpha", b);
    store *only_a = open_fresh("only_a");
    add_doc(only_a, "/a.txt", "alpha", a);
    rag_principal admin, alpha;
    rag_err err = {0};
    rag_principal_admin(&admin);
    CHECK_INT(rag_principal_from_roles("alpha", &alpha, &err), 0);
    store_hits h1, h2;
    CHECK_INT(search(split, "pump repair", &admin, 10, &h1), 4);
    CHECK_INT(search(one, "pump repair", &admin, 10, &h2), 4);
    for (size_t i = 0; i < h1.n && i < h2.n; i++) {
        CHECK_INT(h1.v[i].chunk_id, h2.v[i].chunk_id);
        CHECK(h1.v[i].score == h2.v[i].score);
    }
    store_hits_free(&h1);
    store_hits_free(&h2);
    CHECK_INT(search(split, "pump repair", &alpha, 10, &h1), 2);
    CHECK_INT(search(only_a, "pump repair", &alpha, 10, &h2), 2);
    for (size_t i = 0; i < h1.n && i < h2.n; i++) {
        CHECK_INT(h1.v[i].chunk_id, h2.v[i].chunk_id);
        CHECK(h1.v[i].score == h2.v[i].score);
        CHECK_CONTAINS(h1.v[i].snippet, "[pump]");
    }
    store_hits_free(&h1);
    store_hits_free(&h2);
    /* two visible groups of three: the scores of one index holding both */
    store *three = open_fresh("three");
    add_doc(three, "/a.txt", "alpha", a);
    add_doc(three, "/b.txt", "beta", b);
    add_doc(three, "/c.txt", "gamma", "pump pump pump|many pumps|a pump");
    rag_principal ab;
    CHECK_INT(rag_principal_from_roles("alpha,beta", &ab, &err), 0);
    CHECK_INT(search(three, "pump repair", &ab, 10, &h1), 4);
    CHECK_INT(search(one, "pump repair", &admin, 10, &h2), 4);
    for (size_t i = 0; i < h1.n && i < h2.n; i++) {
        CHECK_INT(h1.v[i].chunk_id, h2.v[i].chunk_id);
        CHECK(h1.v[i].score == h2.v[i].score);
    }
    store_hits_free(&h1);
    store_hits_free(&h2);
    rag_principal_free(&ab);
    store_close(three);
    /* best chunk per document, one group and several */
    store_search_params p;
    store_search_default_params(&p);
    p.per_document = 1;
    p.want_text = 1;
    CHECK_INT(store_search_keyword(only_a, "pump repair", &alpha, &p, &h1, &err), 0);
    CHECK_INT(h1.n, 1);
    if (h1.n) CHECK_STR(h1.v[0].text, "pump maintenance and pump repair");
    store_hits_free(&h1);
    CHECK_INT(store_search_keyword(split, "pump repair", &admin, &p, &h1, &err), 0);
    CHECK_INT(h1.n, 2);
    store_hits_free(&h1);
    rag_principal_free(&alpha);
    store_close(split);
    store_close(one);
    store_close(only_a);
}

/* A document moved to another group is found by that group only, and the
 * keyword indexes stay consistent through replace, move and delete. */
static void test_acl_move_moves_keywords(void)
{
    store *s = open_fresh("move");
    int64_t id = add_doc(s, "/m.txt", "ops", "valve inspection|valve torque");
    add_doc(s, "/f.txt", "finance", "invoice totals");
    rag_principal ops, fin;
    rag_err err = {0};
    CHECK_INT(rag_principal_from_roles("ops", &ops, &err), 0);
    CHECK_INT(rag_principal_from_roles("finance", &fin, &err), 0);
    CHECK_INT(count_hits(s, "valve", &ops), 2);
    CHECK_INT(count_hits(s, "valve", &fin), 0);
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_doc_touch(s, id, 7, group_of(s, "finance"), &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK_INT(count_hits(s, "valve", &ops), 0);
    CHECK_INT(count_hits(s, "valve", &fin), 2);
    add_doc(s, "/m.txt", "ops", "valve seals"); /* replaced, and moved back */
    CHECK_INT(count_hits(s, "valve", &ops), 1);
    CHECK_INT(count_hits(s, "valve", &fin), 0);
    CHECK_INT(count_hits(s, "torque", &ops), 0);
    rag_strv problems = {0};
    CHECK_INT(store_check(s, &problems, &err), 0);
    for (size_t i = 0; i < problems.n; i++)
        printf("    problem: %s\n", problems.v[i]);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_doc_delete(s, id, &err), 0);
    CHECK_INT(store_commit(s, &err), 0);
    CHECK_INT(count_hits(s, "valve", &ops), 0);
    CHECK_INT(store_check(s, &problems, &err), 0);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);
    CHECK_INT(store_fts_rebuild(s, &err), 0);
    CHECK_INT(count_hits(s, "invoice", &fin), 1);
    CHECK_INT(count_hits(s, "invoice", &ops), 0);
    rag_principal_free(&ops);
    rag_principal_free(&fin);
    store_close(s);
}

/* Within one transaction, documents enter the keyword index at commit
 * (store_fts_doc): a search in the transaction still finds them, one moved
 * or deleted before the commit leaves nothing behind, a rollback drops
 * them, and the index matches the chunks after each step. */
static void put_doc(store *s, const char *uri, int64_t group, const char *text)
{
    store_chunk_in ch = {.text = text, .len = strlen(text), .n_tokens = 1, .heading_path = ""};
    ch.byte_end = ch.len;
    store_doc_in d = {.uri = uri,
                      .title = uri,
                      .mime = "text/plain",
                      .content_hash = "00",
                      .mtime_ns = 1,
                      .size = 1,
                      .acl_group = group};
    rag_err err = {0};
    CHECK_INT(store_doc_replace(s, &d, &ch, 1, 0, 0, NULL, &err), 0);
}

static void check_index(store *s)
{
    rag_strv problems = {0};
    rag_err err = {0};
    CHECK_INT(store_check(s, &problems, &err), 0);
    for (size_t i = 0; i < problems.n; i++)
        printf("    problem: %s\n", problems.v[i]);
    CHECK_INT(problems.n, 0);
    rag_strv_free(&problems);
}

static void test_index_at_commit(void)
{
    store *s = open_fresh("atcommit");
    int64_t ops = group_of(s, "ops"), fin = group_of(s, "finance");
    rag_principal admin, p_ops, p_fin;
    rag_err err = {0};
    rag_principal_admin(&admin);
    CHECK_INT(rag_principal_from_roles("ops", &p_ops, &err), 0);
    CHECK_INT(rag_principal_from_roles("finance", &p_fin, &err), 0);

    CHECK_INT(store_begin(s, &err), 0);
    for (int i = 0; i < 50; i++) {
        char uri[32];
        snprintf(uri, sizeof uri, "/d%02d.txt", i);
        put_doc(s, uri, i % 2 ? ops : fin, i % 2 ? "gasket pump" : "ledger pump");
    }
    CHECK_INT(count_hits(s, "pump", &admin), 50); /* found before the commit */
    put_doc(s, "/late.txt", ops, "gasket late");
    put_doc(s, "/d01.txt", ops, "replaced twice"); /* replaced in the transaction */
    int64_t late = 0;
    store_doc d;
    CHECK_INT(store_doc_get_by_uri(s, "/late.txt", &d, &err), 1);
    late = d.id;
    store_doc_free(&d);
    CHECK_INT(store_doc_touch(s, late, 2, fin, &err), 0); /* moved while pending */
    CHECK_INT(store_doc_get_by_uri(s, "/d03.txt", &d, &err), 1);
    CHECK_INT(store_doc_delete(s, d.id, &err), 0); /* deleted while pending */
    store_doc_free(&d);
    CHECK_INT(store_commit(s, &err), 0);
    check_index(s);
    CHECK_INT(count_hits(s, "gasket", &p_ops), 23);
    CHECK_INT(count_hits(s, "gasket", &p_fin), 1); /* late.txt, moved */
    CHECK_INT(count_hits(s, "replaced", &p_ops), 1);
    CHECK_INT(count_hits(s, "pump", &admin), 48);

    CHECK_INT(store_begin(s, &err), 0);
    put_doc(s, "/gone.txt", ops, "rolled back words");
    store_rollback(s);
    CHECK_INT(count_hits(s, "rolled", &admin), 0);
    add_doc(s, "/after.txt", "ops", "after the rollback");
    CHECK_INT(count_hits(s, "rolled", &admin), 0);
    CHECK_INT(count_hits(s, "rollback", &p_ops), 1);
    check_index(s);
    rag_principal_free(&p_ops);
    rag_principal_free(&p_fin);
    store_close(s);
}

/* store_bg_checkpoint: while a bulk writer commits, the log's pages reach
 * the database file from the other thread (before the writer stops it), a
 * reader on its own connection sees every commit, the log stays within its
 * bound, and after the stop it is fully copied and the database intact. */
static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* One transaction of n documents of 6,000 bytes (about 1,000 log pages
 * with their keyword rows per 600 documents). */
static void bulk_batch(store *s, int64_t g, int n, int *docs, char *text)
{
    rag_err err = {0};
    CHECK_INT(store_begin(s, &err), 0);
    for (int i = 0; i < n; i++, (*docs)++) {
        char uri[32];
        snprintf(uri, sizeof uri, "/bulk/%06d.txt", *docs);
        for (int k = 0; k < 6000; k++)
            text[k] = (char)('a' + (k * 31 + *docs) % 26);
        memcpy(text, "marker ", 7);
        for (int k = 7; k < 6000; k += 9)
            text[k] = ' ';
        text[6000] = 0;
        put_doc(s, uri, g, text);
    }
    CHECK_INT(store_commit(s, &err), 0);
}

static void test_bg_checkpoint(void)
{
    store *s = open_fresh("bgckpt"), *r;
    char path[512], wal[520];
    snprintf(path, sizeof path, "%s/bgckpt.db", test_tmpdir());
    snprintf(wal, sizeof wal, "%s-wal", path);
    rag_err err = {0};
    CHECK_INT(store_open(path, NULL, &r, &err), 0);
    int64_t g = group_of(s, "ops");
    rag_principal admin;
    rag_principal_admin(&admin);
    long before = file_size(path), during = before;
    CHECK_INT(store_bg_checkpoint(s, STORE_BG_LOG_PAGES, &err), 0);
    char *text = rag_xmalloc(6001);
    int docs = 0;
    /* until the database file grows (the other thread's copies), or 12
     * transactions */
    for (int t = 0; t < 12 && during <= before + (4l << 20); t++) {
        bulk_batch(s, g, 1000, &docs, text);
        CHECK_INT(count_hits(r, "marker", &admin), 100);
        for (int w = 0; w < 50 && (during = file_size(path)) <= before + (4l << 20); w++)
            usleep(20000);
    }
    CHECK(during > before + (4l << 20)); /* copied while the writer ran */
    /* a bound of 2,500 pages: 14 transactions of some 1,000 pages each
     * would leave some 14,000 pages (58 MB) in a log that never starts
     * over; bounded it holds the bound and about two transactions */
    CHECK_INT(store_bg_checkpoint(s, 2500, &err), 0); /* running: the bound changes */
    long wal_max = 0;
    for (int t = 0; t < 14; t++) {
        bulk_batch(s, g, 600, &docs, text);
        long w = file_size(wal);
        if (w > wal_max) wal_max = w;
    }
    printf("    log file at most %ld bytes over 14 transactions\n", wal_max);
    CHECK(wal_max > 0 && wal_max < (32l << 20));
    CHECK_INT(store_bg_checkpoint(s, 0, &err), 0);
    CHECK_INT(store_bg_checkpoint(s, 0, &err), 0); /* already off */
    /* everything was copied: a checkpoint now has nothing left to do */
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    int log = -1, done = -1;
    CHECK_INT(sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done),
              SQLITE_OK);
    CHECK(log >= 0 && log == done);
    sqlite3_close(db);
    check_index(s);
    CHECK_INT(count_hits(r, "marker", &admin), 100);
    CHECK_INT(store_bg_checkpoint(s, STORE_BG_LOG_PAGES, &err), 0);
    store_close(s); /* stops it too */
    store_close(r);
    rag_free(text);
    rag_principal_free(&admin);
}

/* The rule in C (store_doc_visible) answers as the SQL does. */
static void test_doc_visible_in_c(void)
{
    rag_principal admin, fin, none;
    rag_err err = {0};
    rag_principal_admin(&admin);
    CHECK_INT(rag_principal_from_roles("staff,finance", &fin, &err), 0);
    CHECK_INT(rag_principal_from_roles("ops", &none, &err), 0);
    store_doc d = {.labels = "finance,hr"}, open = {.labels = ""};
    CHECK(store_doc_visible(&admin, &d));
    CHECK(store_doc_visible(&fin, &d));
    CHECK(!store_doc_visible(&none, &d));
    CHECK(store_doc_visible(&admin, &open));
    CHECK(!store_doc_visible(&fin, &open)); /* no label: administrators only */
    store_doc prefix = {.labels = "fin"};   /* whole labels, not prefixes */
    CHECK(!store_doc_visible(&fin, &prefix));
    rag_principal_free(&admin);
    rag_principal_free(&fin);
    rag_principal_free(&none);
}

/* ---- answers and ratings (store/answers.c) ---- */

static void record(store *s, const char *key, const char *id, int64_t created, const char *q,
                   size_t n_cites)
{
    store_answer_cite cites[2] = {{1, 11, 1, "/docs/a.md"}, {2, 12, 2, "/docs/b.md"}};
    store_answer a = {.id = id,
                      .key_name = key,
                      .created_at = created,
                      .question = q,
                      .answer = "the answer [1]",
                      .settings_json = "{\"k\":6}",
                      .cites = cites,
                      .n_cites = n_cites};
    rag_err err = {0};
    CHECK_INT(store_begin(s, &err), 0);
    int rc = store_answer_record(s, &a, &err);
    if (rc) printf("    record: %s\n", err.msg);
    CHECK_INT(rc, 0);
    CHECK_INT(store_commit(s, &err), 0);
}

typedef struct seen_answers {
    size_t n;
    char ids[8][64], keys[8][16], ratings[8][8], comments[8][32], uris[8][64];
    size_t n_cites[8];
    int rewrite_null[8];
    int64_t rated_at[8];
} seen_answers;

static int note_answer(void *ctx, const store_answer *a)
{
    seen_answers *v = ctx;
    if (v->n >= 8) return 1;
    size_t i = v->n++;
    snprintf(v->ids[i], sizeof v->ids[i], "%s", a->id);
    snprintf(v->keys[i], sizeof v->keys[i], "%s", a->key_name);
    snprintf(v->ratings[i], sizeof v->ratings[i], "%s", a->rating ? a->rating : "-");
    snprintf(v->comments[i], sizeof v->comments[i], "%s", a->comment ? a->comment : "-");
    snprintf(v->uris[i], sizeof v->uris[i], "%s", a->n_cites ? a->cites[a->n_cites - 1].uri : "-");
    v->n_cites[i] = a->n_cites;
    v->rewrite_null[i] = a->rewrite == NULL;
    v->rated_at[i] = a->rated_at;
    return 0;
}

static size_t walk(store *s, const store_answer_query *q, seen_answers *v)
{
    memset(v, 0, sizeof *v);
    rag_err err = {0};
    int rc = store_answer_each(s, q, note_answer, v, &err);
    if (rc) printf("    each: %s\n", err.msg);
    CHECK_INT(rc, 0);
    return v->n;
}

static int64_t count_rows(store *s, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3 *db;
    int64_t n = -1;
    if (sqlite3_open_v2(store_path(s), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return n;
}

/* Only the key that got an answer may rate it; another key's id is as
 * unknown as an id nobody has; a second rating replaces the first. */
static void test_answers_rate_own_only(void)
{
    store *s = open_fresh("answers");
    record(s, "alice", "chatcmpl-1", 1000, "When are invoices paid?", 2);
    record(s, "bob", "chatcmpl-1", 1001, "bob's question", 0); /* the same id, another key */
    rag_err err = {0};
    int replaced = -1;
    CHECK_INT(store_answer_rate(s, "alice", "chatcmpl-1", "up", NULL, 2000, &replaced, &err), 1);
    CHECK_INT(replaced, 0);
    CHECK_INT(
        store_answer_rate(s, "alice", "chatcmpl-1", "down", "too vague", 2001, &replaced, &err), 1);
    CHECK_INT(replaced, 1);
    CHECK_INT(store_answer_rate(s, "carol", "chatcmpl-1", "up", NULL, 2002, &replaced, &err), 0);
    CHECK_INT(replaced, 0);
    CHECK_INT(store_answer_rate(s, "alice", "chatcmpl-none", "up", NULL, 2003, &replaced, &err), 0);
    CHECK(store_answer_rate(s, "alice", "chatcmpl-1", "sideways", NULL, 2004, &replaced, &err) < 0);

    store_answer_query q = {.rated_only = 1};
    seen_answers v;
    CHECK_INT(walk(s, &q, &v), 1);
    CHECK_STR(v.keys[0], "alice");
    CHECK_STR(v.ratings[0], "down");
    CHECK_STR(v.comments[0], "too vague");
    CHECK_INT(v.rated_at[0], 2001);
    CHECK_INT(v.n_cites[0], 2);
    CHECK_STR(v.uris[0], "/docs/b.md");
    CHECK(v.rewrite_null[0]);
    q = (store_answer_query){.newest_first = 1};
    CHECK_INT(walk(s, &q, &v), 2); /* bob's is recorded, unrated */
    CHECK_STR(v.keys[0], "bob");
    CHECK_STR(v.ratings[0], "-");
    q = (store_answer_query){.key_name = "bob"};
    CHECK_INT(walk(s, &q, &v), 1);
    q = (store_answer_query){.rating = "up"};
    CHECK_INT(walk(s, &q, &v), 0);
    q = (store_answer_query){.limit = 1};
    CHECK_INT(walk(s, &q, &v), 1);
    CHECK_STR(v.keys[0], "alice"); /* oldest first */

    /* the same key's answer under the same id again replaces it, rating
     * and citations included */
    record(s, "alice", "chatcmpl-1", 1002, "asked again", 1);
    q = (store_answer_query){.key_name = "alice"};
    CHECK_INT(walk(s, &q, &v), 1);
    CHECK_STR(v.ratings[0], "-");
    CHECK_INT(v.n_cites[0], 1);
    CHECK_INT(count_rows(s, "answer_chunks"), 1);
    store_close(s);
}

/* Old answers go, then the oldest beyond the bound, with their citations. */
static void test_answers_prune(void)
{
    store *s = open_fresh("answers_prune");
    for (int i = 0; i < 6; i++) {
        char id[32];
        snprintf(id, sizeof id, "chatcmpl-%d", i);
        record(s, "alice", id, 100 * (i + 1), "q", 2);
    }
    rag_err err = {0};
    int64_t n = -1;
    CHECK_INT(store_answers_prune(s, 250, 0, &n, &err), 0); /* made at 100 and 200 */
    CHECK_INT(n, 2);
    CHECK_INT(count_rows(s, "answers"), 4);
    CHECK_INT(store_answers_prune(s, 250, 3, &n, &err), 0); /* the newest 3 stay */
    CHECK_INT(n, 1);
    store_answer_query q = {0};
    seen_answers v;
    CHECK_INT(walk(s, &q, &v), 3);
    CHECK_STR(v.ids[0], "chatcmpl-3");
    CHECK_INT(count_rows(s, "answer_chunks"), 6);
    CHECK_INT(store_answers_prune(s, 0, 10, &n, &err), 0);
    CHECK_INT(n, 0);
    store_close(s);
}

int main(void)
{
    RUN(test_schema_version_and_reopen);
    RUN(test_replace_and_delete);
    RUN(test_hidden_as_missing);
    RUN(test_visibility_inside_ranking);
    RUN(test_fts_syntax_is_words);
    RUN(test_stemming_and_accents);
    RUN(test_cjk_and_korean);
    RUN(test_snippet_highlight);
    RUN(test_terms_match_index);
    RUN(test_change_log);
    RUN(test_acl_move_moves_keywords);
    RUN(test_index_at_commit);
    RUN(test_scores_from_visible_groups);
    RUN(test_search_time_ignores_invisible);
    RUN(test_bounded_equals_exhaustive);
    RUN(test_many_groups);
    RUN(test_doc_visible_in_c);
    RUN(test_bg_checkpoint);
    RUN(test_answers_rate_own_only);
    RUN(test_answers_prune);
    return test_summary();
}
