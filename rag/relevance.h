/* rag/relevance.h: whether a passage bears on a question, and the cutoff
 * under which an answer leaves it out.
 *
 * Fusion ranks passages (reciprocal ranks say which is better, not whether
 * any is good), so the cutoff reads signals on absolute scales instead:
 *
 *   lexical  the share of the question's term weight found in one place of
 *            the passage (two consecutive sentences, with its title and
 *            headings): 0..1. A term weighs its BM25 IDF over the keyword
 *            indexes of the groups the passages come from (what the
 *            principal may see, nothing else), half when none of those
 *            documents holds it (it may be the user's word for one they
 *            use); English function and question words ("who", "the", "do",
 *            "my") weigh nothing. The share is of the question's focus: its
 *            heaviest 70% of terms (at least three), so that the incidental
 *            words of a long question do not count against a passage.
 *   vector   the cosine similarity of question and passage embeddings (the
 *            vector stage's score), for passages that stage found
 *   rerank   the cross-encoder's probability (the logistic of its score),
 *            for passages it judged
 *
 * A passage the reranker judged is kept when that probability reaches
 * min_rerank; any other when its lexical share reaches min_keyword or its
 * similarity reaches min_vector. A cutoff of 0 keeps everything its signal
 * sees. When no passage is kept, the answer abstains: the documents this
 * principal may see do not answer the question. Every input is a passage
 * the principal may see, so the decision reveals nothing of other roles'
 * documents. */
#ifndef RAG_RAG_RELEVANCE_H
#define RAG_RAG_RELEVANCE_H

#include "base/err.h"
#include "rag/retrieve.h"
#include "rag/settings.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* ---- question terms ------------------------------------------------------------ */
/* English words that say what kind of question it is, or hold a sentence
 * together, but not what it is about ("who", "the", "do", "my"), as text:
 * run it through store_terms to get their index terms. */
extern const char rag_function_words[];

#define RAG_QTERMS_MAX 64
#define RAG_QTERMS_FOCUS 0.7

/* The distinct index terms of a question (store_terms, query side) and
 * their weights. */
typedef struct rag_qterms {
    char *term[RAG_QTERMS_MAX];
    double weight[RAG_QTERMS_MAX]; /* IDF, floored at 0.01; half for a term no document of
                                      the groups holds; 0 for function words */
    size_t n;
    double total; /* sum of the weights */
    double focus; /* sum of the heaviest RAG_QTERMS_FOCUS of them (at least 3) */
} rag_qterms;

/* The terms of question, weighted over the keyword indexes of the groups of
 * doc_ids (the documents of the passages at hand). */
int rag_qterms_init(store *s, const char *question, const int64_t *doc_ids, size_t n_docs,
                    rag_qterms *q, rag_err *err);
/* Sets seen[i] for each term of q found in text (seen: q->n entries, not
 * cleared); *n_words (may be NULL) gets the number of terms of text. */
int rag_qterms_match(store *s, const rag_qterms *q, const char *text, size_t len,
                     unsigned char *seen, size_t *n_words, rag_err *err);
/* The weight of the terms marked in seen. */
double rag_qterms_weight(const rag_qterms *q, const unsigned char *seen);
void rag_qterms_free(rag_qterms *q);

/* ---- the cutoff ------------------------------------------------------------------ */
typedef struct rag_cutoff {
    double min_keyword; /* lexical share (answer.min_keyword) */
    double min_vector;  /* cosine similarity (answer.min_vector) */
    double min_rerank;  /* reranker probability (answer.min_rerank) */
    int trim;           /* set each result's span (answer.trim_passages) */
} rag_cutoff;

/* ---- trimming ---------------------------------------------------------------------
 * A passage given to a model is cut to what bears on the question: from the
 * first to the last of its sentences that hold at least RAG_TRIM_SHARE of
 * the question's focus weight by themselves, with RAG_TRIM_CONTEXT
 * sentences more on each side (a sentence's neighbours often name what it
 * speaks of). A passage none of whose sentences does (found by its meaning,
 * or by its title and headings) is given whole. */
#define RAG_TRIM_SHARE 0.1
#define RAG_TRIM_CONTEXT 1

void rag_cutoff_settings(const rag_settings *s, rag_cutoff *c);

/* Fills each result's lexical share (rag_result.lexical), whether it
 * passes the cutoff (rag_result.relevant) and, with c->trim, its span. */
int rag_relevance(store *s, const char *question, rag_results *r, const rag_cutoff *c,
                  rag_err *err);
/* Removes the results under the cutoff (keeping the order of the others);
 * r->n_below counts them. */
void rag_cutoff_apply(rag_results *r);

#endif
