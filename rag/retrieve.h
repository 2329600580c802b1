/* rag/retrieve.h: hybrid retrieval.
 *
 *   keyword (BM25 over FTS5) ──┐
 *                              ├─ reciprocal-rank fusion ─ near-duplicate ─ (cross-encoder) ─ top k
 *   vector (FAISS, query       │   score = sum 1/(rrf_k + rank)   collapse     rerank of the
 *   embedded with the model) ──┘                                               top N
 *
 * Each stage is optional; all of them see only what the principal may see
 * (visibility is applied inside each search, before ranking). The result
 * keeps each stage's rank and score for --explain. */
#ifndef RAG_RAG_RETRIEVE_H
#define RAG_RAG_RETRIEVE_H

#include "base/err.h"
#include "base/principal.h"
#include "embed/embed.h"
#include "rag/settings.h"
#include "store/store.h"

typedef struct rag_retrieve_params {
    size_t k;            /* results wanted */
    size_t candidates;   /* per search stage (0: the larger of 4k and 50) */
    int keyword, vector; /* stages on (vector needs an embedder) */
    int rrf_k;           /* reciprocal-rank fusion constant (default 60) */
    int dedupe;          /* collapse near-duplicate chunks (default 1) */
    double dup_jaccard;  /* word-shingle similarity at which chunks are duplicates (0.85) */
    size_t rerank_top;   /* with a reranker: candidates it reorders (0: the larger of 3k and 30) */
    int per_document;    /* at most one chunk per document */
    int want_snippet;
    const char *hl_open, *hl_close; /* snippet highlight markers (keyword hits) */
    const float *query_vector;      /* a query already embedded (dims of the database's model):
                                       used instead of embedding the query; enables the vector stage */
    int query_dims;
    const char *embed_query; /* the text the vector stage embeds, when not the query itself
                                (a follow-up's: rag/converse.h); NULL: the query */
} rag_retrieve_params;

void rag_retrieve_default_params(rag_retrieve_params *p);
/* The parameters the settings give ([search], rerank.top), for mode
 * ("keyword", "vector", "hybrid" or NULL: hybrid): what both programs
 * start from, so that one question retrieves alike through either. */
void rag_retrieve_settings(const rag_settings *s, const char *mode, rag_retrieve_params *p);

typedef struct rag_result {
    store_hit hit;                      /* owned fields; text always filled */
    int kw_rank, vec_rank, rerank_rank; /* 1-based, 0: not found by that stage */
    double kw_score, vec_score, rrf_score, rerank_score;
    double score;   /* the final ordering score (rerank, else RRF, else the single stage's) */
    double lexical; /* share of the question's term weight in the passage (rag/relevance.h) */
    int relevant;   /* passes the relevance cutoff (set by rag_relevance) */
    /* the part of hit.text a prompt gives (rag_relevance, with answer.trim_passages): bytes
     * [span_start, span_end) from the first to the last sentence that bears on the
     * question, a sentence more on each side; span_end 0: the whole text */
    size_t span_start, span_end;
} rag_result;

typedef struct rag_results {
    rag_result *v;
    size_t n;
    size_t n_duplicates; /* collapsed */
    size_t n_below;      /* left out under the relevance cutoff (rag_cutoff_apply) */
    double embed_ms, keyword_ms, vector_ms, fuse_ms, rerank_ms;
    store_kw_profile kw_prof; /* the keyword stage, step by step */
} rag_results;

/* Retrieves for `query` as `who`. embedder (the database's model) or
 * p->query_vector enables the vector stage, reranker the rerank stage; both
 * may be NULL. */
int rag_retrieve(store *s, emb_model *embedder, emb_model *reranker, const char *query,
                 const rag_principal *who, const rag_retrieve_params *p, rag_results *out,
                 rag_err *err);
void rag_results_free(rag_results *r);
/* Frees what one result owns. */
void rag_result_clear(rag_result *x);

#endif
