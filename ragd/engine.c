/* ragd/engine.c: the daemon's shared state (see ragd/engine.h). */
#include "ragd/engine.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "base/file.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ragd_slot {
    rag_generator gen; /* a context of the model, or the remote server */
    int busy;
    char owner[80]; /* whose prompt the context's cache holds ("": nobody's) */
};

/* A place in the queue for a slot: a doubly linked FIFO. */
struct ragd_ticket {
    ragd_ticket *prev, *next;
};

struct ragd_engine {
    ragd_engine_info info;
    char *model_name;

    /* database */
    store **pool;
    int n_pool, n_free;
    store **free_conn;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    store *writer;
    pthread_mutex_t writer_mu;
    /* cluster mode: the replica follows the cluster; uploads are ingested
     * into the staging database, then published (ragd/replica.h) */
    ragd_replica *replica;
    store *staging;
    char *staging_path;
    rag_ids ids;           /* the key of the ids the API shows */
    ragd_answers *answers; /* answers recorded for feedback, and their ratings */

    /* vector index catch-up (see engine.h: the vector indexes) */
    store *indexer; /* the catch-up thread's connection, sharing the pool's indexes */
    pthread_t cu_thread;
    int cu_started, cu_stop;
    uint64_t cu_asked, cu_done; /* catch-ups asked for; the last asked when one began */
    pthread_mutex_t cu_mu;
    pthread_cond_t cu_cv, cu_done_cv;

    /* models */
    emb_model *embedder, *reranker;
    pthread_mutex_t embed_mu, rerank_mu; /* embed_mu: around every call of the embedder */
    ragd_embedq *embedq;                 /* the clients' texts to embed, batched together */
    rag_gen_model gm;                    /* the generator, local or remote (rag/backend.h) */
    llm_batcher *batcher;     /* with several local slots: their answers share each step */
    llm_tokens public_prefix; /* what every grounded prompt begins with (see rag_generator) */

    /* generation slots and their queue */
    ragd_slot *slots;
    int n_slots, n_running, n_waiting, queue_max, stopping;
    ragd_ticket *head, *tail;
    pthread_mutex_t gen_mu;
    pthread_cond_t gen_cv;
};

void ragd_engine_default_params(ragd_engine_params *p)
{
    memset(p, 0, sizeof *p);
    p->slots = 4;
    p->queue = 16;
    p->db_connections = 8;
    p->answers_keep_days = 90;
    p->answers_max = 100000;
    store_vindex_default_params(&p->vindex);
}

struct timespec ragd_wake_time(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

/* The generator's slots: contexts of the local model, or handles on the
 * remote server (which keep bounding the answers in flight). */
static int open_slots(ragd_engine *e, const ragd_engine_params *p, int n_ctx, rag_err *err)
{
    e->n_slots = p->slots > 0 ? p->slots : 1;
    e->slots = rag_xcalloc((size_t)e->n_slots, sizeof *e->slots);
    if (e->gm.model && e->n_slots > 1) {
        llm_batcher_params bp = {.max_ctx = n_ctx, .n_threads = p->n_threads};
        int rc = llm_batcher_new(e->gm.model, &bp, &e->batcher, err);
        if (rc) return rc;
    }
    for (int i = 0; i < e->n_slots; i++) {
        e->slots[i].gen.batcher = e->batcher;
        e->slots[i].gen.public_prefix = e->public_prefix.v;
        e->slots[i].gen.n_public = e->public_prefix.n;
        rag_gen_model_generator(&e->gm, NULL, &e->slots[i].gen);
        if (!e->gm.model) continue; /* a server */
        llm_context_params cp;
        llm_context_default_params(&cp);
        cp.n_ctx = n_ctx;
        cp.n_threads = p->n_threads;
        int rc = llm_context_new(e->gm.model, &cp, &e->slots[i].gen.ctx, err);
        if (rc) return rc;
        /* Each slot starts with the public prefix computed, so that a key's
         * first question does not pay for the instructions every prompt
         * begins with (generate_local reuses them for any key): the first
         * slot computes it, the others copy its cache. */
        if (e->public_prefix.n >= LLM_PASS_MIN && (int)e->public_prefix.n < n_ctx) {
            rc = i == 0 ? llm_decode(e->slots[0].gen.ctx, e->public_prefix.v,
                                     (int)e->public_prefix.n, err)
                        : llm_context_copy(e->slots[i].gen.ctx, e->slots[0].gen.ctx, err);
            if (rc) return rc;
        }
    }
    return 0;
}

/* The tokens every grounded prompt begins with: what two prompts of
 * different questions and no context share (the template's opening, our
 * instructions, the start of the user's turn). */
static void find_public_prefix(ragd_engine *e, int n_ctx)
{
    rag_results none = {0};
    rag_prompt a, b;
    rag_prompt_input in = {.question = "When?", .results = &none};
    rag_err err = {0};
    if (rag_prompt_build(llm_model_vocab(e->gm.model), e->info.chat_family, &in, (size_t)n_ctx, &a,
                         &err))
        return;
    in.question = "Where?";
    if (!rag_prompt_build(llm_model_vocab(e->gm.model), e->info.chat_family, &in, (size_t)n_ctx, &b,
                          &err)) {
        size_t n = 0;
        while (n < a.tokens.n && n < b.tokens.n && a.tokens.v[n] == b.tokens.v[n])
            n++;
        e->public_prefix = a.tokens; /* taken over, cut to what they share */
        e->public_prefix.n = n;
        a.tokens = (llm_tokens){0};
        rag_prompt_free(&b);
    }
    rag_prompt_free(&a);
}

static int open_generator(ragd_engine *e, const ragd_engine_params *p, rag_err *err)
{
    int rc = rag_gen_model_open(p->settings, &e->gm, err);
    if (rc) return rc;
    e->info.model_name = e->gm.name;
    e->info.model_url = e->gm.remote.pool ? net_pool_shown(e->gm.remote.pool) : NULL;
    e->info.model_path = e->gm.model ? p->settings->model.path : NULL;
    e->info.n_ctx = e->gm.n_ctx;
    e->info.chat_family = e->gm.fam;
    if (e->gm.model) find_public_prefix(e, e->gm.n_ctx);
    return open_slots(e, p, e->gm.n_ctx, err);
}

/* Texts in one batch of embedding requests: enough for many clients'
 * queries at once, few enough that a batch takes a fraction of a second. */
#define EMBED_BATCH_TEXTS 256

static int open_models(ragd_engine *e, const ragd_engine_params *p, rag_err *err)
{
    /* the embedding model must be the one of the database's vectors; the
     * reranker is loaded when configured, for the requests that ask */
    rag_retrieval_models rm;
    int rc = rag_retrieval_open(p->settings, e->pool[0], NULL,
                                RAG_RETRIEVAL_REQUIRE | RAG_RETRIEVAL_RERANK_IF_SET, &rm, err);
    if (rc) return rc;
    e->embedder = rm.embedder;
    e->reranker = rm.reranker;
    rag_free(rm.note);
    if (e->embedder) {
        e->embedq = ragd_embedq_new(e->embedder, &e->embed_mu, EMBED_BATCH_TEXTS);
        e->info.embed_name = emb_model_identity(e->embedder)->name;
        const net_pool *ep = emb_model_pool(e->embedder); /* labels: no passwords */
        e->info.embed_url = ep ? net_pool_shown(ep) : NULL;
        e->info.embed_dims = emb_dims(e->embedder);
    }
    if (e->reranker) e->info.rerank_name = emb_model_identity(e->reranker)->name;
    const rag_settings *s = p->settings;
    return s->model.path || s->model.url ? open_generator(e, p, err) : 0;
}

/* ---- vector index catch-up ------------------------------------------------- */

/* How often the catch-up thread looks at the change log for other
 * processes' writes (a look is two small queries). */
#define CATCH_UP_POLL_SECONDS 0.25

static void *catch_up_main(void *arg)
{
    ragd_engine *e = arg;
    int failing = 0;
    pthread_mutex_lock(&e->cu_mu);
    while (!e->cu_stop) {
        if (e->cu_done == e->cu_asked) {
            struct timespec ts = ragd_wake_time(CATCH_UP_POLL_SECONDS);
            pthread_cond_timedwait(&e->cu_cv, &e->cu_mu, &ts);
            if (e->cu_stop) break;
        }
        uint64_t asked = e->cu_asked;
        pthread_mutex_unlock(&e->cu_mu);
        rag_err err = {0};
        int rc = store_vindex_catch_up(e->indexer, &err);
        if (rc && !failing)
            rag_log_warn("vector index: catching up with the database: %s", err.msg);
        else if (!rc && failing)
            rag_log_info("vector index: caught up with the database again");
        failing = rc != 0;
        pthread_mutex_lock(&e->cu_mu);
        e->cu_done = asked;
        pthread_cond_broadcast(&e->cu_done_cv);
    }
    e->cu_done = e->cu_asked;
    pthread_cond_broadcast(&e->cu_done_cv);
    pthread_mutex_unlock(&e->cu_mu);
    return NULL;
}

/* Asks the catch-up thread for a catch-up that starts from now; with wait,
 * returns once it has run (or the thread stopped). */
static void catch_up(ragd_engine *e, int wait)
{
    if (!e->cu_started) return;
    pthread_mutex_lock(&e->cu_mu);
    uint64_t mine = ++e->cu_asked;
    pthread_cond_signal(&e->cu_cv);
    while (wait && e->cu_done < mine && !e->cu_stop)
        pthread_cond_wait(&e->cu_done_cv, &e->cu_mu);
    pthread_mutex_unlock(&e->cu_mu);
}

static int start_catch_up(ragd_engine *e, const char *db_path, rag_err *err)
{
    int rc = store_open(db_path, NULL, &e->indexer, err);
    if (rc) return rc;
    store_vindex_share(e->indexer, e->pool[0]);
    store_vindex_set_background(e->pool[0], 1);
    /* no signal is ever delivered to this thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&e->cu_thread, NULL, catch_up_main, e);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc) return rag_err_set(err, RAG_ERR_NOMEM, "cannot start the vector index thread");
    e->cu_started = 1;
    return 0;
}

static void stop_catch_up(ragd_engine *e)
{
    if (!e->cu_started) return;
    pthread_mutex_lock(&e->cu_mu);
    e->cu_stop = 1;
    pthread_cond_broadcast(&e->cu_cv);
    pthread_mutex_unlock(&e->cu_mu);
    pthread_join(e->cu_thread, NULL);
    e->cu_started = 0;
}

/* The replica applied the cluster's changes: the vector indexes follow. */
static void on_cluster_change(void *ctx, size_t docs, int keys)
{
    (void)keys; /* the server reloads its keys when it sees the version move */
    if (docs) catch_up(ctx, 0);
}

int ragd_engine_open(const ragd_engine_params *p, ragd_engine **out, rag_err *err)
{
    *out = NULL;
    ragd_engine *e = rag_xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->pool_mu, NULL);
    pthread_cond_init(&e->pool_cv, NULL);
    pthread_mutex_init(&e->writer_mu, NULL);
    pthread_mutex_init(&e->cu_mu, NULL);
    pthread_cond_init(&e->cu_cv, NULL);
    pthread_cond_init(&e->cu_done_cv, NULL);
    pthread_mutex_init(&e->embed_mu, NULL);
    pthread_mutex_init(&e->rerank_mu, NULL);
    pthread_mutex_init(&e->gen_mu, NULL);
    pthread_cond_init(&e->gen_cv, NULL);
    e->n_pool = p->db_connections > 0 ? p->db_connections : 1;
    e->pool = rag_xcalloc((size_t)e->n_pool, sizeof *e->pool);
    e->free_conn = rag_xcalloc((size_t)e->n_pool, sizeof *e->free_conn);
    e->queue_max = p->queue > 0 ? p->queue : 0;
    e->info.db_path = p->db_path;
    int rc = 0;
    ragd_replica_params rp;
    if (p->cluster) { /* the replica up to date before anything reads it */
        rp = *p->cluster;
        rp.on_change = on_cluster_change;
        rp.ctx = e;
        rc = ragd_replica_open(&rp, &e->replica, err);
    }
    for (int i = 0; i < e->n_pool && !rc; i++) {
        rc = store_open(p->db_path, NULL, &e->pool[i], err);
        if (rc) break;
        if (i == 0)
            store_vindex_configure(e->pool[0], &p->vindex);
        else
            store_vindex_share(e->pool[i], e->pool[0]);
        e->free_conn[e->n_free++] = e->pool[i];
    }
    if (!rc) rc = store_open(p->db_path, NULL, &e->writer, err);
    if (!rc) store_vindex_configure(e->writer, &p->vindex);
    if (!rc) rc = rag_ids_load(e->writer, &e->ids, err);
    if (!rc) {
        ragd_answers_params ap = {.db_path = p->db_path,
                                  .keep_days = p->answers_keep_days,
                                  .max_answers = p->answers_max};
        rc = ragd_answers_open(&ap, &e->answers, err);
    }
    if (!rc) rc = open_models(e, p, err);
    /* the vector indexes now, not at the first question; then kept up to
     * date in the background */
    if (!rc && e->embedder) rc = store_vindex_sync(e->pool[0], 0, NULL, NULL, err);
    if (!rc && e->embedder) rc = start_catch_up(e, p->db_path, err);
    if (!rc && e->replica) {
        /* a staging database of this process (what a killed one left is
         * only a copy of what the cluster has or never got) */
        e->staging_path = rag_xasprintf("%s.staging.db", p->db_path);
        const char *suffix[] = {"", "-wal", "-shm", "-journal"};
        for (size_t i = 0; i < 4; i++) {
            char *f = rag_xasprintf("%s%s", e->staging_path, suffix[i]);
            unlink(f);
            rag_free(f);
        }
        rc = store_open(e->staging_path, NULL, &e->staging, err);
        if (!rc) rc = ragd_replica_start(e->replica, e->writer, &e->writer_mu, err);
    }
    e->info.slots = e->n_slots;
    e->info.queue = e->queue_max;
    if (rc) {
        ragd_engine_close(e);
        return rc;
    }
    *out = e;
    return 0;
}

void ragd_engine_close(ragd_engine *e)
{
    if (!e) return;
    ragd_replica_free(e->replica); /* its thread writes through e->writer */
    e->replica = NULL;
    store_close(e->staging);
    rag_free(e->staging_path);
    stop_catch_up(e);
    ragd_answers_close(e->answers); /* writes what is queued */
    llm_batcher_free(e->batcher);   /* no answer is running any more */
    llm_tokens_free(&e->public_prefix);
    for (int i = 0; i < e->n_slots; i++)
        llm_context_free(e->slots[i].gen.ctx);
    rag_free(e->slots);
    rag_gen_model_close(&e->gm);
    ragd_embedq_free(e->embedq);
    emb_model_close(e->embedder);
    emb_model_close(e->reranker);
    for (int i = 0; i < e->n_pool; i++)
        store_close(e->pool[i]);
    store_close(e->writer);
    store_close(e->indexer);
    rag_free(e->pool);
    rag_free(e->free_conn);
    pthread_mutex_destroy(&e->pool_mu);
    pthread_cond_destroy(&e->pool_cv);
    pthread_mutex_destroy(&e->writer_mu);
    pthread_mutex_destroy(&e->cu_mu);
    pthread_cond_destroy(&e->cu_cv);
    pthread_cond_destroy(&e->cu_done_cv);
    pthread_mutex_destroy(&e->embed_mu);
    pthread_mutex_destroy(&e->rerank_mu);
    pthread_mutex_destroy(&e->gen_mu);
    pthread_cond_destroy(&e->gen_cv);
    rag_free(e);
}

const ragd_engine_info *ragd_engine_get_info(const ragd_engine *e)
{
    return &e->info;
}

const llm_model *ragd_engine_model(const ragd_engine *e)
{
    return e->gm.model;
}

/* ---- database ------------------------------------------------------------- */

const rag_ids *ragd_engine_ids(const ragd_engine *e)
{
    return &e->ids;
}

ragd_answers *ragd_engine_answers(ragd_engine *e)
{
    return e->answers;
}

store *ragd_engine_store_get(ragd_engine *e)
{
    pthread_mutex_lock(&e->pool_mu);
    while (!e->n_free)
        pthread_cond_wait(&e->pool_cv, &e->pool_mu);
    store *s = e->free_conn[--e->n_free];
    pthread_mutex_unlock(&e->pool_mu);
    return s;
}

void ragd_engine_store_put(ragd_engine *e, store *s)
{
    if (!s) return;
    pthread_mutex_lock(&e->pool_mu);
    e->free_conn[e->n_free++] = s;
    pthread_cond_signal(&e->pool_cv);
    pthread_mutex_unlock(&e->pool_mu);
}

/* ---- retrieval and embeddings --------------------------------------------- */

/* An embedding server's failure, whatever it said to us (401, a malformed
 * answer), is a bad gateway to our client, not the client's fault. */
static int remote_failure(const ragd_engine *e, int rc, rag_err *err)
{
    if (!rc || !e->info.embed_url) return rc;
    if (err) err->code = RAG_ERR_NET;
    return RAG_ERR_NET;
}

static void set_note(char **note, const char *text)
{
    if (note && !*note) *note = rag_xstrdup(text);
}

int ragd_engine_retrieve(ragd_engine *e, store *s, const char *query, const rag_principal *who,
                         const rag_retrieve_params *p, int rerank, rag_results *out, char **note,
                         rag_err *err)
{
    rag_retrieve_params rp = *p;
    float *qv = NULL;
    double embed_ms = 0;
    int rc = 0;
    if (note) *note = NULL;
    if (rp.vector && !rp.query_vector) {
        int match = e->embedder ? ing_model_matches(s, e->embedder, err) : 0;
        if (match < 0) return match;
        if (match) {
            int dims = emb_dims(e->embedder);
            qv = rag_xmalloc((size_t)dims * sizeof *qv);
            double t = rag_now_s();
            const char *text = rp.embed_query ? rp.embed_query : query; /* a follow-up's */
            rc = remote_failure(e, ragd_embedq_embed(e->embedq, &text, 1, EMB_QUERY, qv, err), err);
            embed_ms = (rag_now_s() - t) * 1e3;
            rp.query_vector = qv;
            rp.query_dims = dims;
        } else {
            const char *why = e->embedder ? "the database has no vectors of ragd's embedding model"
                                          : "no embedding model is loaded";
            rp.vector = 0;
            if (!rp.keyword) rc = rag_err_set(err, RAG_ERR_INVALID, "vector search: %s", why);
            char *msg = rag_xasprintf("%s: keyword search only", why);
            set_note(note, msg);
            rag_free(msg);
        }
    }
    emb_model *rr = rerank ? e->reranker : NULL;
    if (rerank && !rr) set_note(note, "no reranker is configured: results are not reranked");
    if (!rc) {
        if (rr) pthread_mutex_lock(&e->rerank_mu);
        rc = rag_retrieve(s, NULL, rr, query, who, &rp, out, err);
        if (rr) pthread_mutex_unlock(&e->rerank_mu);
        if (!rc) out->embed_ms = embed_ms;
    }
    rag_free(qv);
    return rc;
}

int ragd_engine_extractive(ragd_engine *e, store *s, const char *question, const store_hits *hits,
                           int rerank, rag_answer *out, rag_err *err)
{
    rag_extractive_params p;
    rag_extractive_default_params(&p);
    p.reranker = rerank ? e->reranker : NULL;
    if (p.reranker) pthread_mutex_lock(&e->rerank_mu);
    int rc = rag_answer_extractive(s, question, hits, &p, out, err);
    if (p.reranker) pthread_mutex_unlock(&e->rerank_mu);
    return rc;
}

int ragd_engine_embed(ragd_engine *e, const char *const *texts, size_t n, emb_input kind,
                      float *out, size_t *n_tokens, rag_err *err)
{
    if (!e->embedder)
        return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                           "no embedding model is loaded (start ragd with --embed-model)");
    if (n_tokens) {
        *n_tokens = 0;
        for (size_t i = 0; i < n; i++)
            *n_tokens += emb_count_tokens(e->embedder, texts[i], strlen(texts[i]));
    }
    return remote_failure(e, ragd_embedq_embed(e->embedq, texts, n, kind, out, err), err);
}

int ragd_engine_embed_dims(const ragd_engine *e)
{
    return e->embedder ? emb_dims(e->embedder) : 0;
}

/* ---- generation slots ------------------------------------------------------ */

int ragd_engine_reserve(ragd_engine *e, ragd_ticket **out, rag_err *err)
{
    *out = NULL;
    if (!e->slots) return rag_err_set(err, RAG_ERR_UNSUPPORTED, "no generator model is loaded");
    pthread_mutex_lock(&e->gen_mu);
    int rc = 0;
    if (e->stopping)
        rc = rag_err_set(err, RAG_ERR_BUSY, "the server is shutting down");
    else if (e->n_waiting >=
             e->queue_max + (e->n_slots - e->n_running)) /* free slots take one each */
        rc = rag_err_set(err, RAG_ERR_BUSY,
                         "%d generations are running and %d waiting: try again shortly",
                         e->n_running, e->n_waiting);
    if (!rc) {
        ragd_ticket *t = rag_xcalloc(1, sizeof *t);
        t->prev = e->tail;
        if (e->tail)
            e->tail->next = t;
        else
            e->head = t;
        e->tail = t;
        e->n_waiting++;
        *out = t;
    }
    pthread_mutex_unlock(&e->gen_mu);
    return rc;
}

/* Takes t out of the queue (the caller holds gen_mu). */
static void unlink_ticket(ragd_engine *e, ragd_ticket *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        e->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        e->tail = t->prev;
    e->n_waiting--;
    rag_free(t);
    pthread_cond_broadcast(&e->gen_cv); /* the next in line may now be first */
}

void ragd_engine_unreserve(ragd_engine *e, ragd_ticket *t)
{
    if (!t) return;
    pthread_mutex_lock(&e->gen_mu);
    unlink_ticket(e, t);
    pthread_mutex_unlock(&e->gen_mu);
}

/* A free slot: the one whose cache holds owner's last prompt (its prefix
 * may be reused), else one that holds nobody's, else any. */
static ragd_slot *free_slot(ragd_engine *e, const char *owner)
{
    ragd_slot *any = NULL, *empty = NULL;
    for (int i = 0; i < e->n_slots; i++) {
        ragd_slot *s = &e->slots[i];
        if (s->busy) continue;
        if (owner && *owner && !strcmp(s->owner, owner)) return s;
        if (!s->owner[0] && !empty) empty = s;
        if (!any) any = s;
    }
    return empty ? empty : any;
}

int ragd_engine_wait(ragd_engine *e, ragd_ticket *t, const char *owner, double deadline,
                     int (*stop)(void *ctx), void *ctx, ragd_slot **out, rag_err *err)
{
    *out = NULL;
    int rc = 0;
    pthread_mutex_lock(&e->gen_mu);
    for (;;) {
        ragd_slot *s = e->head == t ? free_slot(e, owner) : NULL;
        if (s) {
            s->busy = 1;
            e->n_running++;
            *out = s;
            break;
        }
        if (stop && stop(ctx)) {
            rc = rag_err_set(err, RAG_ERR_INTERRUPTED,
                             "cancelled while waiting for a generation slot");
            break;
        }
        double now = rag_now_s();
        if (deadline > 0 && now >= deadline) {
            rc = rag_err_set(err, RAG_ERR_LIMIT, "timed out waiting for a generation slot");
            break;
        }
        /* wake at least every 100 ms to notice a cancellation */
        double wait = 0.1;
        if (deadline > 0 && deadline - now < wait) wait = deadline - now;
        struct timespec ts = ragd_wake_time(wait);
        pthread_cond_timedwait(&e->gen_cv, &e->gen_mu, &ts);
    }
    unlink_ticket(e, t);
    pthread_mutex_unlock(&e->gen_mu);
    return rc;
}

const rag_generator *ragd_slot_generator(ragd_slot *s, const char *owner)
{
    s->gen.reuse = owner && *owner && !strcmp(s->owner, owner);
    snprintf(s->owner, sizeof s->owner, "%s", owner ? owner : "");
    return &s->gen;
}

void ragd_engine_release(ragd_engine *e, ragd_slot *s)
{
    if (!s) return;
    pthread_mutex_lock(&e->gen_mu);
    s->busy = 0;
    e->n_running--;
    pthread_cond_broadcast(&e->gen_cv);
    pthread_mutex_unlock(&e->gen_mu);
}

void ragd_engine_queue_depth(ragd_engine *e, int *waiting, int *running)
{
    pthread_mutex_lock(&e->gen_mu);
    *waiting = e->n_waiting;
    *running = e->n_running;
    pthread_mutex_unlock(&e->gen_mu);
}

int ragd_engine_batching(ragd_engine *e, llm_batcher_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!e->batcher) return 0;
    llm_batcher_get_stats(e->batcher, out);
    return 1;
}

int ragd_engine_embed_batching(ragd_engine *e, ragd_embedq_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!e->embedq) return 0;
    ragd_embedq_get_stats(e->embedq, out);
    return 1;
}

void ragd_engine_pools(const ragd_engine *e, const net_pool **gen, const net_pool **embed)
{
    *gen = e->gm.remote.pool;
    *embed = emb_model_pool(e->embedder);
}

void ragd_engine_stop_accepting(ragd_engine *e)
{
    pthread_mutex_lock(&e->gen_mu);
    e->stopping = 1;
    pthread_mutex_unlock(&e->gen_mu);
}

/* ---- writing ---------------------------------------------------------------- */

/* An upload's chunks go through the embedding queue in slices, after the
 * queries waiting (ing_params.embed_fn). */
static int embed_chunks(void *ctx, const char *const *texts, size_t n, float *out, uint8_t *cut,
                        rag_err *err)
{
    ragd_engine *e = ctx;
    int rc = ragd_embedq_embed_bulk(e->embedq, texts, n, EMB_DOCUMENT, out, cut, err);
    return remote_failure(e, rc, err);
}

/* Ingests on the write connection, then waits until the vector indexes
 * hold what it wrote: an upload answered is found by the next search. */
/* What the pipeline said of the one document of a cluster upload, told to
 * the caller once the cluster has it. */
typedef struct staged_outcome {
    ing_status st;
    char *reason;
    int said;
} staged_outcome;

static void on_staged(void *ctx, const char *path, ing_status st, const char *reason)
{
    staged_outcome *o = ctx;
    (void)path;
    o->st = st;
    rag_free(o->reason);
    o->reason = reason ? rag_xstrdup(reason) : NULL;
    o->said = 1;
}

/* Cluster mode, under the write lock: the pipeline writes into the
 * staging database; a new or changed document is published to the
 * cluster and applied to the replica before the caller hears of it. */
static int ingest_clustered(ragd_engine *e, const char *path, const char *url, const rag_buf *body,
                            const char *content_type, ing_params *p, ing_report *rep, rag_err *err)
{
    const char *uri = url ? url : path;
    void (*told)(void *, const char *, ing_status, const char *) = p->on_file;
    void *told_ctx = p->ctx;
    staged_outcome o = {0};
    p->on_file = on_staged;
    p->ctx = &o;
    int rc = url ? ing_run_page(e->staging, url, body, content_type, p, rep, err)
                 : ing_run(e->staging, &path, 1, p, rep, err);
    p->on_file = told;
    p->ctx = told_ctx;
    store_doc staged, known;
    int has = rc ? 0 : store_doc_get_by_uri(e->staging, o.said ? uri : "", &staged, err);
    if (has < 0) rc = has;
    if (!rc && has) {
        /* the file's path on this node is the document's uri: resolved as
         * the pipeline resolved it */
        int found = store_doc_get_by_uri(e->writer, staged.uri, &known, err);
        if (found < 0) rc = found;
        if (!rc && found && !strcmp(known.content_hash, staged.content_hash) &&
            !strcmp(known.labels, staged.labels) && !!known.ext_id == !!staged.ext_id &&
            (!known.ext_id || !strcmp(known.ext_id, staged.ext_id))) {
            o.st = ING_UNCHANGED; /* nothing to publish */
        } else if (!rc) {
            rag_buf upload = {0};
            rag_map m;
            int have_bytes = !url && rag_file_map(path, 1u << 30, &m, err) == 0;
            if (have_bytes) rag_buf_append(&upload, m.data, m.size);
            if (have_bytes) rag_file_unmap(&m);
            rc = ragd_replica_publish(e->replica, e->staging, staged.uri,
                                      url          ? body
                                      : have_bytes ? &upload
                                                   : NULL,
                                      NULL, err);
            rag_buf_free(&upload);
            if (!rc && found && o.st == ING_ADDED) o.st = ING_UPDATED;
        }
        if (found > 0) store_doc_free(&known);
        rag_err e2 = {0};
        if (store_begin(e->staging, &e2) || store_doc_delete(e->staging, staged.id, &e2) ||
            store_commit(e->staging, &e2))
            store_rollback(e->staging);
        store_doc_free(&staged);
    }
    if (!rc && o.said && told) told(told_ctx, uri, o.st, o.reason);
    rag_free(o.reason);
    return rc;
}

static int ingest_on_writer(ragd_engine *e, const char *path, const char *url, const rag_buf *body,
                            const char *content_type, ing_params *p, ing_report *rep, rag_err *err)
{
    p->embedder = e->embedder;
    p->embed_fn = e->embedder ? embed_chunks : NULL;
    p->embed_ctx = e;
    pthread_mutex_lock(&e->writer_mu);
    int rc = e->replica ? ingest_clustered(e, path, url, body, content_type, p, rep, err)
             : url      ? ing_run_page(e->writer, url, body, content_type, p, rep, err)
                        : ing_run(e->writer, &path, 1, p, rep, err);
    pthread_mutex_unlock(&e->writer_mu);
    catch_up(e, 1);
    return rc;
}

int ragd_engine_ingest_file(ragd_engine *e, const char *path, ing_params *p, ing_report *rep,
                            rag_err *err)
{
    return ingest_on_writer(e, path, NULL, NULL, NULL, p, rep, err);
}

int ragd_engine_ingest_page(ragd_engine *e, const char *url, const rag_buf *body,
                            const char *content_type, ing_params *p, ing_report *rep, rag_err *err)
{
    return ingest_on_writer(e, NULL, url, body, content_type, p, rep, err);
}

typedef struct member_ids {
    int64_t *v;
    size_t n, cap;
} member_ids;

static int collect_member(void *ctx, const store_doc *d)
{
    member_ids *m = ctx;
    m->v = rag_xgrow(m->v, &m->cap, m->n + 1, sizeof *m->v);
    m->v[m->n++] = d->id;
    return 0;
}

int ragd_engine_delete_document(ragd_engine *e, int64_t id, const rag_principal *who, rag_err *err)
{
    pthread_mutex_lock(&e->writer_mu);
    store_doc d;
    int rc = store_doc_get(e->writer, id, who, &d, err);
    if (rc == 1) {
        /* an archive takes its members (uri!/...) with it */
        member_ids mem = {0};
        char *prefix = rag_xasprintf("%s!/", d.uri);
        store_doc_free(&d);
        rc = store_doc_each_prefix(e->writer, prefix, collect_member, &mem, err);
        rag_free(prefix);
        if (rc) {
            /* nothing removed */
        } else if (e->replica) {
            rc = ragd_replica_delete(e->replica, id, err);
            for (size_t k = 0; rc >= 0 && k < mem.n; k++) {
                int r2 = ragd_replica_delete(e->replica, mem.v[k], err);
                if (r2 < 0) rc = r2;
            }
        } else {
            rc = store_begin(e->writer, err);
            if (!rc) rc = store_doc_delete(e->writer, id, err);
            for (size_t k = 0; !rc && k < mem.n; k++)
                rc = store_doc_delete(e->writer, mem.v[k], err);
            if (!rc)
                rc = store_commit(e->writer, err);
            else
                store_rollback(e->writer);
            if (!rc) rc = 1;
        }
        rag_free(mem.v);
    }
    pthread_mutex_unlock(&e->writer_mu);
    if (rc == 1) catch_up(e, 0); /* searches drop it already (their snapshot): tidy the index */
    return rc;
}

int ragd_engine_cluster_status(ragd_engine *e, ragd_replica_status *out)
{
    if (!e->replica) return 0;
    ragd_replica_get_status(e->replica, out);
    return 1;
}

int ragd_engine_persist(ragd_engine *e, rag_err *err)
{
    if (!e->embedder) return 0;
    store *s = ragd_engine_store_get(e);
    int rc = store_vindex_sync(s, 1, NULL, NULL, err);
    ragd_engine_store_put(e, s);
    return rc;
}
