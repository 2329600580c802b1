/* rag/answer.h: answers with citations.
 *
 * Without a generator model the answer is extractive: the sentences of the
 * retrieved chunks that best match the question, each followed by the
 * number of its source. Sources are numbered in order of first use. */
#ifndef RAG_RAG_ANSWER_H
#define RAG_RAG_ANSWER_H

#include "base/err.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ragd_citation {
    int n; /* the number used in the answer text: [n] */
    int64_t document_id, chunk_id;
    char *uri, *title, *heading_path;
    char *quote; /* the sentence(s) taken from this source */
} ragd_citation;

typedef struct ragd_answer_sentence {
    char *text;
    int citation; /* n of its source */
} ragd_answer_sentence;

typedef struct ragd_answer {
    char *text; /* sentences with [n] markers, one per line */
    ragd_answer_sentence *sentences;
    size_t n_sentences;
    ragd_citation *citations;
    size_t n_citations;
} ragd_answer;

typedef struct ragd_extractive_params {
    size_t max_sentences; /* sentences in the answer (default 3) */
    size_t min_words;     /* shorter sentences are not quoted (default 4) */
} ragd_extractive_params;

void ragd_extractive_default_params(ragd_extractive_params *p);

/* Builds the extractive answer to `question` from `hits` (retrieved chunks,
 * best first, with text). An answer with no sentences means nothing in the
 * hits matches the question. */
int ragd_answer_extractive(store *s, const char *question, const store_hits *hits,
                           const ragd_extractive_params *p, ragd_answer *out, rag_err *err);
void ragd_answer_free(ragd_answer *a);

#endif
