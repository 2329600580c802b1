/* Evaluation measures against hand-computed values (trec_eval semantics). */
#include "base/file.h"
#include "base/mem.h"
#include "rag/eval.h"
#include "test.h"

#include <math.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void write_file(const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", test_tmpdir(), name);
    rag_err err = {0};
    CHECK_INT(rag_file_write_atomic(path, text, strlen(text), &err), 0);
}

static rag_ranked *ranking(const char *const *ids, const double *scores, size_t n)
{
    rag_ranked *r = rag_xcalloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++)
        r[i] = (rag_ranked){rag_xstrdup(ids[i]), scores[i]};
    return r;
}

static void free_ranking(rag_ranked *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rag_free(r[i].docid);
    rag_free(r);
}

static void test_measures_binary(void)
{
    char path[512];
    /* q1: relevant d1, d3, d7 (d7 never retrieved); d9 judged not relevant */
    write_file("qrels.tsv", "q1\td1\t1\nq1\td3\t1\nq1\td7\t1\nq1\td9\t0\n", path, sizeof path);
    rag_qrels q;
    rag_err err = {0};
    CHECK_INT(rag_qrels_load(path, &q, &err), 0);
    CHECK_INT(rag_qrels_n_relevant(&q, "q1"), 3);
    const char *ids[] = {"d2", "d1", "d9", "d3", "d5"};
    const double sc[] = {5, 4, 3, 2, 1};
    rag_ranked *r = ranking(ids, sc, 5);
    rag_metrics m;
    rag_eval_query(&q, "q1", r, 5, &m);
    /* AP = (1/2 + 2/4) / 3 */
    CHECK(NEAR(m.map, (0.5 + 0.5) / 3.0));
    CHECK(NEAR(m.mrr, 0.5));
    CHECK(NEAR(m.p10, 0.2));
    CHECK(NEAR(m.recall100, 2.0 / 3.0));
    double dcg = 1 / log2(3.0) + 1 / log2(5.0), idcg = 1 + 1 / log2(3.0) + 1 / log2(4.0);
    CHECK(NEAR(m.ndcg10, dcg / idcg));
    free_ranking(r, 5);
    rag_qrels_free(&q);
}

static void test_ties_sorted_like_trec_eval(void)
{
    char path[512];
    write_file("qrels2.tsv", "7 0 a 1\n", path, sizeof path); /* TREC 4-column form */
    rag_qrels q;
    rag_err err = {0};
    CHECK_INT(rag_qrels_load(path, &q, &err), 0);
    /* equal scores: trec_eval ranks docno descending, so "b" comes before "a" */
    const char *ids[] = {"a", "b"};
    const double sc[] = {1.0, 1.0};
    rag_ranked *r = ranking(ids, sc, 2);
    rag_metrics m;
    rag_eval_query(&q, "7", r, 2, &m);
    CHECK_STR(r[0].docid, "b");
    CHECK(NEAR(m.mrr, 0.5));
    CHECK(NEAR(m.map, 0.5));
    free_ranking(r, 2);
    rag_qrels_free(&q);
}

static void test_graded_ndcg_and_no_results(void)
{
    char path[512];
    write_file("qrels3.tsv", "q\tx\t2\nq\ty\t1\n", path, sizeof path);
    rag_qrels q;
    rag_err err = {0};
    CHECK_INT(rag_qrels_load(path, &q, &err), 0);
    const char *ids[] = {"y", "x"};
    const double sc[] = {2, 1};
    rag_ranked *r = ranking(ids, sc, 2);
    rag_metrics m;
    rag_eval_query(&q, "q", r, 2, &m);
    double dcg = 1 + 2 / log2(3.0), idcg = 2 + 1 / log2(3.0);
    CHECK(NEAR(m.ndcg10, dcg / idcg));
    free_ranking(r, 2);
    rag_eval_query(&q, "q", NULL, 0, &m); /* nothing retrieved: all zero */
    CHECK(m.map == 0 && m.ndcg10 == 0 && m.mrr == 0 && m.p10 == 0 && m.recall100 == 0);
    rag_qrels_free(&q);
}

static void test_bad_files_named(void)
{
    char path[512];
    write_file("bad.tsv", "q1\td1\t1\nq1 d2\n", path, sizeof path);
    rag_qrels q;
    rag_err err = {0};
    CHECK_INT(rag_qrels_load(path, &q, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "bad.tsv:2");
    rag_strv ids = {0}, texts = {0};
    write_file("queries.tsv", "1\tfirst query\nno tab here\n", path, sizeof path);
    CHECK_INT(rag_queries_load(path, &ids, &texts, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "queries.tsv:2");
    rag_strv_free(&ids);
    rag_strv_free(&texts);
}

int main(void)
{
    RUN(test_measures_binary);
    RUN(test_ties_sorted_like_trec_eval);
    RUN(test_graded_ndcg_and_no_results);
    RUN(test_bad_files_named);
    return test_summary();
}
