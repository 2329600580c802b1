/* rag/eval.h: retrieval evaluation with trec_eval semantics.
 *
 * Inputs: queries (qid<TAB>text), relevance judgments (qid<TAB>docid<TAB>grade,
 * or TREC's "qid 0 docid grade"), and for each query a ranked list of
 * (docid, score). Measures, as trec_eval computes them:
 *   MAP        mean over queries of average precision (relevant = grade > 0,
 *              divided by all relevant documents of the query)
 *   nDCG@10    gain = grade, discount log2(rank + 1), ideal from all judgments
 *   Recall@100, P@10 (always divided by 10), MRR (reciprocal rank of the first
 *              relevant document, 0 when none)
 * The ranking is re-sorted the way trec_eval reads a run file: by score as
 * written (descending), ties by docid descending. Queries are averaged over
 * those with at least one relevant judgment that appear in the queries file
 * (a query that retrieves nothing counts as 0, like trec_eval -c). */
#ifndef RAG_RAG_EVAL_H
#define RAG_RAG_EVAL_H

#include "base/buf.h"
#include "base/err.h"

#include <stddef.h>

typedef struct rag_qrel {
    char *qid, *docid;
    int grade;
} rag_qrel;

typedef struct rag_qrels {
    rag_qrel *v; /* sorted by qid, docid */
    size_t n, cap;
} rag_qrels;

int rag_qrels_load(const char *path, rag_qrels *out, rag_err *err);
void rag_qrels_free(rag_qrels *q);
/* Number of relevant (grade > 0) judgments of qid. */
size_t rag_qrels_n_relevant(const rag_qrels *q, const char *qid);

/* Loads "qid<TAB>text" lines. */
int rag_queries_load(const char *path, rag_strv *ids, rag_strv *texts, rag_err *err);

typedef struct rag_ranked {
    char *docid; /* owned */
    double score;
} rag_ranked;

typedef struct rag_metrics {
    double map, ndcg10, recall100, p10, mrr;
} rag_metrics;

/* Formats a score the way it is written to the run file (and read back). */
#define RAG_RUN_SCORE_FMT "%.6f"

/* Sorts `r` as trec_eval would read it back from a run file (scores rounded
 * by RAG_RUN_SCORE_FMT) and computes the measures of one query. */
void rag_eval_query(const rag_qrels *q, const char *qid, rag_ranked *r, size_t n, rag_metrics *out);

#endif
