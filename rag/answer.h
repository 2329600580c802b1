/* rag/answer.h: answers with citations.
 *
 * Without a generator model the answer is extractive: the sentences of the
 * retrieved chunks that best match the question, each followed by the
 * number of its source. Sources are numbered in order of first use. */
#ifndef RAG_RAG_ANSWER_H
#define RAG_RAG_ANSWER_H

#include "base/err.h"
#include "embed/embed.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* The answer when the documents the principal may see do not answer the
 * question: no passage passed the relevance cutoff (rag/relevance.h), or
 * no sentence of those that did matches it. */
#define RAG_ANSWER_NONE "The documents you may see do not answer this question."

typedef struct rag_citation {
    int n; /* the number used in the answer text: [n] */
    int64_t document_id, chunk_id;
    char *uri, *title, *heading_path;
    char *quote; /* the sentence(s) taken from this source */
} rag_citation;

typedef struct rag_answer_sentence {
    char *text;
    int citation; /* n of its source */
} rag_answer_sentence;

typedef struct rag_answer {
    char *text; /* sentences with [n] markers, one per line; RAG_ANSWER_NONE without any */
    rag_answer_sentence *sentences;
    size_t n_sentences;
    rag_citation *citations;
    size_t n_citations;
} rag_answer;

typedef struct rag_extractive_params {
    size_t max_sentences; /* sentences in the answer (default 3) */
    size_t min_words;     /* shorter sentences are not quoted (default 4) */
    emb_model *reranker;  /* scores the best sentences again (NULL: none) */
} rag_extractive_params;

void rag_extractive_default_params(rag_extractive_params *p);

/* Builds the extractive answer to `question` from `hits` (retrieved chunks,
 * best first, with text). An answer with no sentences means nothing in the
 * hits matches the question. */
int rag_answer_extractive(store *s, const char *question, const store_hits *hits,
                          const rag_extractive_params *p, rag_answer *out, rag_err *err);
void rag_answer_free(rag_answer *a);

#endif
