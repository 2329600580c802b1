/* ragd/engine.h: what the daemon holds for all requests.
 *
 * The models are loaded once and shared; each is used in a way that is safe
 * for concurrent requests:
 *   - the database: a pool of connections sharing one set of vector indexes
 *     (store_vindex_share), handed out one request at a time, and one more
 *     connection for writing (uploads, deletions), used under a lock; the
 *     answers given are recorded, and rated, through a connection and a
 *     thread of their own (ragd/answers.h);
 *   - the embedding model and the reranker: one request at a time each
 *     (their scratch memory is per model), held only for the forward pass
 *     of one batch: an upload's chunks go in slices of about 10 ms, and
 *     queries waiting go first;
 *   - the vector indexes: searched as they stand, never replayed on a
 *     search's path; a thread of their own (with its own connection)
 *     catches them up with the change log, per group, after every write of
 *     ours and every 250 ms for other processes' writes (store.h:
 *     store_vindex_set_background);
 *   - the generator: `slots` contexts (KV caches), each used by one
 *     generation at a time. Generations wait for a slot in a bounded FIFO
 *     queue: when every slot is busy and `queue` generations are already
 *     waiting, a new one is refused at once (the daemon answers 429), so a
 *     burst cannot pile up without bound.
 * The generator and the embedding model may be remote OpenAI-compatible
 * servers instead (rag/generate.h, embed/embed.h): then a slot holds no
 * context, but slots and queue still bound the answers in flight, and a
 * remote model's failure is RAG_ERR_NET to our clients (a bad gateway),
 * whatever the server said to us.
 * Nothing here knows about HTTP. */
#ifndef RAG_RAGD_ENGINE_H
#define RAG_RAGD_ENGINE_H

#include "base/err.h"
#include "base/principal.h"
#include "embed/embed.h"
#include "ingest/ingest.h"
#include "llm/llm.h"
#include "ragd/answers.h"
#include "ragd/embedq.h"
#include "ragd/replica.h"
#include "rag/backend.h"
#include "rag/generate.h"
#include "rag/ids.h"
#include "rag/answer.h"
#include "rag/retrieve.h"
#include "store/store.h"

#include <time.h>

typedef struct ragd_engine_params {
    const char *db_path;
    const rag_settings *settings; /* the models (rag/backend.h: a file or a server each;
                                     no generator: extractive answers; no embedding model:
                                     keyword search only), their context and threads */
    int slots;                    /* concurrent generations (default 1) */
    int queue;                    /* generations allowed to wait for a busy slot (default 16) */
    int db_connections;           /* read connections (default 8) */
    int n_threads;                /* compute threads of each model (0: all CPUs) */
    store_vindex_params vindex;
    /* Cluster mode: the cluster and this node's replica (db_path must be
     * cluster->path); NULL on one machine. Writes then go to the cluster
     * first (ragd/replica.h). */
    const ragd_replica_params *cluster;
    /* Answers recorded for feedback (ragd/answers.h): days and number kept
     * (feedback.keep_days, 90; 0: none recorded; feedback.max_answers, 100000). */
    long answers_keep_days, answers_max;
} ragd_engine_params;

void ragd_engine_default_params(ragd_engine_params *p);

typedef struct ragd_engine ragd_engine;

/* Opens the database and loads the models. An embedding model the
 * database's vectors do not come from is refused (as by rag search). */
int ragd_engine_open(const ragd_engine_params *p, ragd_engine **out, rag_err *err);
/* Call once no request is using the engine any more. */
void ragd_engine_close(ragd_engine *e);

/* ---- what is loaded ------------------------------------------------------ */
typedef struct ragd_engine_info {
    const char *db_path;
    const char *model_name; /* the generator's name (general.name, else the file; a
                               server's remote_model), or NULL */
    const char *model_path;
    const char *model_url;   /* a remote generator's base URLs (no passwords), else NULL */
    const char *embed_name;  /* or NULL */
    const char *embed_url;   /* a remote embedding model's base URLs (likewise), else NULL */
    const char *rerank_name; /* or NULL */
    int n_ctx, embed_dims, slots, queue; /* n_ctx: a server's remote_ctx */
    llm_chat_family chat_family;
} ragd_engine_info;

const ragd_engine_info *ragd_engine_get_info(const ragd_engine *e);
/* The local generator; NULL without one or with a remote one. */
const llm_model *ragd_engine_model(const ragd_engine *e);

/* ---- database ------------------------------------------------------------- */
/* The key of the document and chunk ids the API shows (rag/ids.h). */
const rag_ids *ragd_engine_ids(const ragd_engine *e);
/* A read connection for this request (waits for a free one). */
store *ragd_engine_store_get(ragd_engine *e);
void ragd_engine_store_put(ragd_engine *e, store *s);

/* The answers recorded for feedback (ragd/answers.h): the chat handler
 * records each answer there, the feedback handler rates them. */
ragd_answers *ragd_engine_answers(ragd_engine *e);

/* ---- retrieval and embeddings --------------------------------------------- */
/* Retrieves for `who` on connection s: the query is embedded under the
 * embedder's lock, and with rerank the candidates are reranked under the
 * reranker's. *note (owned, may be NULL) says why a stage was off. */
int ragd_engine_retrieve(ragd_engine *e, store *s, const char *query, const rag_principal *who,
                         const rag_retrieve_params *p, int rerank, rag_results *out, char **note,
                         rag_err *err);
/* The extractive answer to question from hits, its best sentences scored
 * again by the reranker when rerank and one is loaded (rag/answer.h). */
int ragd_engine_extractive(ragd_engine *e, store *s, const char *question, const store_hits *hits,
                           int rerank, rag_answer *out, rag_err *err);

/* Embeds texts (as documents when kind is EMB_DOCUMENT, raw otherwise)
 * into out[n x dims], normalised. n_tokens receives the tokens counted. */
int ragd_engine_embed(ragd_engine *e, const char *const *texts, size_t n, emb_input kind,
                      float *out, size_t *n_tokens, rag_err *err);
int ragd_engine_embed_dims(const ragd_engine *e); /* 0 without an embedding model */

/* ---- generation ------------------------------------------------------------ */
typedef struct ragd_slot ragd_slot;
typedef struct ragd_ticket ragd_ticket;

/* Takes a place in the queue for a generation slot without waiting:
 * RAG_ERR_BUSY when `queue` generations already wait (or the engine is
 * stopping), RAG_ERR_UNSUPPORTED without a generator. */
int ragd_engine_reserve(ragd_engine *e, ragd_ticket **out, rag_err *err);
/* Waits for the ticket's turn and a free slot, preferring the one that
 * holds owner's last prompt (see ragd_slot_generator). Gives up with
 * RAG_ERR_INTERRUPTED when stop(ctx) returns non-zero (asked about ten
 * times a second; stop may be NULL), RAG_ERR_LIMIT at the deadline
 * (rag_now_s seconds; 0: none). The ticket is consumed either way. */
int ragd_engine_wait(ragd_engine *e, ragd_ticket *t, const char *owner, double deadline,
                     int (*stop)(void *ctx), void *ctx, ragd_slot **out, rag_err *err);
/* Gives a ticket back without waiting. */
void ragd_engine_unreserve(ragd_engine *e, ragd_ticket *t);
/* Where the slot's answer is generated: its context, or the server.
 * owner names whose answer it is (the API key): the prompt prefix cached in
 * the context is reused only for the owner who left it there, because how
 * much of a prompt is found cached (and how fast it comes) would otherwise
 * tell one key what another key's prompt held. */
const rag_generator *ragd_slot_generator(ragd_slot *s, const char *owner);
void ragd_engine_release(ragd_engine *e, ragd_slot *s);

/* Generations waiting and running now. */
void ragd_engine_queue_depth(ragd_engine *e, int *waiting, int *running);
/* What continuous batching has done: 1 and the counts when the local model
 * batches (several slots), 0 otherwise. */
int ragd_engine_batching(ragd_engine *e, llm_batcher_stats *out);
/* The same for the embedding requests, batched across clients: 1 and the
 * counts with an embedder, 0 without. */
int ragd_engine_embed_batching(ragd_engine *e, ragd_embedq_stats *out);
/* The pools of remote servers (net/pool.c) of the generator and the
 * embedder, each NULL when that model is local or absent. */
void ragd_engine_pools(const ragd_engine *e, const net_pool **gen, const net_pool **embed);
/* Refuses new reservations from now on (shutting down). */
void ragd_engine_stop_accepting(ragd_engine *e);

/* ---- writing ---------------------------------------------------------------- */
/* Ingests one file on the write connection: as rag ingest does, with p's
 * labels and id. Its chunks are embedded through the embedding queue in
 * small slices, each after the queries waiting (ragd_embedq_embed_bulk):
 * searches do not wait for an upload. Returns once the vector indexes hold
 * what it wrote. */
int ragd_engine_ingest_file(ragd_engine *e, const char *path, ing_params *p, ing_report *rep,
                            rag_err *err);
/* The same for a page fetched already (ing_fetch_page): its source is url. */
int ragd_engine_ingest_page(ragd_engine *e, const char *url, const rag_buf *body,
                            const char *content_type, ing_params *p, ing_report *rep, rag_err *err);
/* Deletes a document `who` may see: 1 deleted, 0 not found (or invisible). */
int ragd_engine_delete_document(ragd_engine *e, int64_t id, const rag_principal *who, rag_err *err);
/* Cluster mode: 1 and the replica's status, 0 on one machine. */
int ragd_engine_cluster_status(ragd_engine *e, ragd_replica_status *out);

/* Writes the vector indexes back to their files (at shutdown). */
int ragd_engine_persist(ragd_engine *e, rag_err *err);

/* The CLOCK_REALTIME moment `seconds` from now, for pthread_cond_timedwait. */
struct timespec ragd_wake_time(double seconds);

#endif
