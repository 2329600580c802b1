/* ragd/embedq.h: embedding requests of many clients, batched together.
 *
 * Every caller that needs vectors (an /v1/embeddings request, the query of
 * a search or a chat) puts its texts in one queue. Whoever finds the model
 * idle takes everything waiting of the same kind (queries, or documents)
 * and embeds it in one call, then hands each caller its rows; the others
 * sleep until theirs are done. A model call has a fixed cost per batch and
 * computes a batch of texts far faster than the same texts one by one, so
 * concurrent clients wait less than they would in line. No thread is
 * added: the callers take turns doing the work.
 *
 * A large caller (an upload's chunks: ragd_embedq_embed_bulk) goes in
 * slices sized to take about 10 ms of the model each, and every slice
 * waits behind all other requests: a query that arrives during an upload
 * waits for one slice, not for the upload.
 *
 * A text's vector does not depend on what it was batched with (the encoder
 * computes each text on its own rows, with float products). When a batch
 * of several callers fails, each caller's texts are embedded again alone,
 * so that an error reaches only the caller whose input caused it. */
#ifndef RAG_RAGD_EMBEDQ_H
#define RAG_RAGD_EMBEDQ_H

#include "base/err.h"
#include "embed/embed.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ragd_embedq ragd_embedq;

/* m is borrowed; model_mu, held around each model call, is the lock that
 * other users of m (ingestion) take too. A batch holds at most max_texts
 * texts (a caller with more gets a batch of its own). */
ragd_embedq *ragd_embedq_new(emb_model *m, pthread_mutex_t *model_mu, size_t max_texts);
void ragd_embedq_free(ragd_embedq *q);

/* As emb_embed(m, texts, n, kind, 1, out, NULL, err), in a batch. */
int ragd_embedq_embed(ragd_embedq *q, const char *const *texts, size_t n, emb_input kind,
                      float *out, rag_err *err);

/* The same for many texts of a bulk caller (cut as emb_embed's, or NULL):
 * in slices, each after every other request waiting at the time. */
int ragd_embedq_embed_bulk(ragd_embedq *q, const char *const *texts, size_t n, emb_input kind,
                           float *out, uint8_t *cut, rag_err *err);

typedef struct ragd_embedq_stats {
    uint64_t requests; /* callers served */
    uint64_t batches;  /* model calls made for them */
    uint64_t texts;    /* texts in those calls */
} ragd_embedq_stats;

void ragd_embedq_get_stats(ragd_embedq *q, ragd_embedq_stats *out);

#endif
