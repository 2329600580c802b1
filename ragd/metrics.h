/* ragd/metrics.h: the daemon's counters and histograms, rendered in the
 * Prometheus text format for GET /metrics.
 *
 * Label values come from fixed sets (route templates such as
 * "/v1/documents/{id}", stage names, status codes, the configured remote
 * servers' URLs without their userinfo), never from what a client sends,
 * so the number of series stays bounded. Thread-safe. */
#ifndef RAG_RAGD_METRICS_H
#define RAG_RAGD_METRICS_H

#include "base/buf.h"
#include "llm/llm.h"
#include "net/net.h"
#include "ragd/answers.h"
#include "ragd/embedq.h"
#include "ragd/replica.h"

typedef struct ragd_meter ragd_meter;

ragd_meter *ragd_meter_new(void);
void ragd_meter_free(ragd_meter *m);

/* A request finished: its route template, status and duration. */
void ragd_meter_request(ragd_meter *m, const char *route, int status, double seconds);
/* A stage of a request took this long ("embed", "keyword", "vector",
 * "fuse", "rerank", "queue", "prompt", "generate"). */
void ragd_meter_stage(ragd_meter *m, const char *stage, double seconds);
/* A generation: tokens of its prompt, tokens generated and the time spent
 * generating them. */
void ragd_meter_generation(ragd_meter *m, int prompt_tokens, int generated, double gen_seconds);
/* Tokens embedded for /v1/embeddings and query embedding. */
void ragd_meter_embedded(ragd_meter *m, size_t tokens);

/* Gauges read at scrape time. */
typedef struct ragd_meter_gauges {
    int queue_waiting, generations_running, connections;
    long long documents, chunks, api_keys;
    size_t rss_bytes, heap_bytes;
    int ready;
    int batching; /* the counts below are set */
    llm_batcher_stats batch;
    int embed_batching; /* and these */
    ragd_embedq_stats embed;
    int cluster; /* cluster mode: the replica's state below */
    ragd_replica_status replica;
    const net_pool *gen_pool, *embed_pool; /* remote servers, or NULL */
    ragd_answers_stats answers;            /* answers recorded for feedback, ratings */
} ragd_meter_gauges;

void ragd_meter_render(ragd_meter *m, const ragd_meter_gauges *g, rag_buf *out);

#endif
