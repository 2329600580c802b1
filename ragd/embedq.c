/* ragd/embedq.c: embedding requests batched across clients (see
 * ragd/embedq.h). */
#include "ragd/embedq.h"
#include "base/mem.h"
#include "base/time.h"

#include <string.h>

/* A bulk caller's slices aim at this many seconds of model time: about the
 * most a query that arrives during an upload waits for the model. */
#define BULK_SLICE_SECONDS 0.01
#define BULK_SLICE_FIRST 8
#define BULK_SLICE_MAX 64

typedef struct request {
    const char *const *texts;
    size_t n;
    emb_input kind;
    float *out;
    uint8_t *cut; /* bulk requests only: emb_embed's cut flags, or NULL */
    rag_err *err;
    int bulk;       /* a slice of ragd_embedq_embed_bulk: after every other request */
    double seconds; /* bulk: how long the model took for it */
    int done, rc;
    struct request *next;
} request;

struct ragd_embedq {
    emb_model *m;
    pthread_mutex_t *model_mu;
    size_t max_texts;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a batch finished */
    request *head, *tail;
    int busy; /* someone is running a batch */
    ragd_embedq_stats stats;
};

ragd_embedq *ragd_embedq_new(emb_model *m, pthread_mutex_t *model_mu, size_t max_texts)
{
    ragd_embedq *q = rag_xcalloc(1, sizeof *q);
    q->m = m;
    q->model_mu = model_mu;
    q->max_texts = max_texts ? max_texts : 1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    return q;
}

void ragd_embedq_free(ragd_embedq *q)
{
    if (!q) return;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    rag_free(q);
}

static int embed(ragd_embedq *q, const char *const *texts, size_t n, emb_input kind, float *out,
                 uint8_t *cut, rag_err *err)
{
    pthread_mutex_lock(q->model_mu);
    int rc = emb_embed(q->m, texts, n, kind, 1, out, cut, err);
    pthread_mutex_unlock(q->model_mu);
    return rc;
}

/* Under mu: takes the oldest request that is not a bulk slice and the
 * others of its kind after it, up to max_texts texts in all (the oldest
 * always), out of the queue; with none, the oldest bulk slice alone. */
static request *take_batch(ragd_embedq *q, size_t *n_texts)
{
    request *batch = NULL, **tail = &batch, **link = &q->head, *prev = NULL;
    const request *first = q->head;
    while (first && first->bulk)
        first = first->next;
    int bulk = first == NULL;
    if (bulk) first = q->head;
    emb_input kind = first->kind;
    *n_texts = 0;
    while (*link) {
        request *r = *link;
        if (r->kind == kind && r->bulk == bulk && !(bulk && batch) &&
            (!batch || *n_texts + r->n <= q->max_texts)) {
            *link = r->next;
            if (q->tail == r) q->tail = prev;
            r->next = NULL;
            *tail = r;
            tail = &r->next;
            *n_texts += r->n;
        } else {
            prev = r;
            link = &r->next;
        }
    }
    return batch;
}

/* Outside mu: one model call for the batch, or, when it fails with several
 * callers in it, one for each. */
static void run_batch(ragd_embedq *q, request *batch, size_t n_texts)
{
    int dims = emb_dims(q->m);
    if (!batch->next) {
        double t = rag_now_s();
        batch->rc =
            embed(q, batch->texts, batch->n, batch->kind, batch->out, batch->cut, batch->err);
        batch->seconds = rag_now_s() - t;
        return;
    }
    const char **texts = rag_xmalloc(n_texts * sizeof *texts);
    float *out = rag_xmalloc(n_texts * (size_t)dims * sizeof *out);
    size_t at = 0;
    for (request *r = batch; r; r = r->next) {
        memcpy(texts + at, r->texts, r->n * sizeof *texts);
        at += r->n;
    }
    rag_err err = {0};
    int rc = embed(q, texts, n_texts, batch->kind, out, NULL, &err);
    at = 0;
    for (request *r = batch; r; r = r->next) {
        if (rc)
            r->rc = embed(q, r->texts, r->n, r->kind, r->out, NULL, r->err);
        else
            memcpy(r->out, out + at * (size_t)dims, r->n * (size_t)dims * sizeof *out);
        at += r->n;
    }
    rag_free(out);
    rag_free(texts);
}

/* Queues one request and waits until it is done (running batches, its own
 * or others', whenever the model is idle). */
static int submit(ragd_embedq *q, request *in)
{
    request me = *in;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = &me;
    else
        q->head = &me;
    q->tail = &me;
    q->stats.requests++;
    while (!me.done) {
        if (q->busy) {
            pthread_cond_wait(&q->cv, &q->mu);
            continue;
        }
        /* the model is idle: this caller runs the next batch (its own
         * request is in it, or in a later one it will run too) */
        size_t n_texts;
        request *batch = take_batch(q, &n_texts);
        q->busy = 1;
        q->stats.batches++;
        q->stats.texts += n_texts;
        pthread_mutex_unlock(&q->mu);
        run_batch(q, batch, n_texts);
        pthread_mutex_lock(&q->mu);
        for (request *r = batch, *next; r; r = next) {
            next = r->next; /* r may return (and vanish) once done is set */
            r->done = 1;
        }
        q->busy = 0;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    in->seconds = me.seconds;
    return me.rc;
}

int ragd_embedq_embed(ragd_embedq *q, const char *const *texts, size_t n, emb_input kind,
                      float *out, rag_err *err)
{
    if (n == 0) return 0;
    request r = {.texts = texts, .n = n, .kind = kind, .out = out, .err = err};
    return submit(q, &r);
}

int ragd_embedq_embed_bulk(ragd_embedq *q, const char *const *texts, size_t n, emb_input kind,
                           float *out, uint8_t *cut, rag_err *err)
{
    int dims = emb_dims(q->m);
    /* The first slice is a guess; then each is sized by the least model
     * time per text seen so far (a loaded machine only adds time: the
     * least is the truest, and slices do not shrink to nothing). */
    size_t slice = BULK_SLICE_FIRST;
    double least = 0;
    for (size_t at = 0; at < n;) {
        size_t m = n - at < slice ? n - at : slice;
        request r = {.texts = texts + at,
                     .n = m,
                     .kind = kind,
                     .out = out + at * (size_t)dims,
                     .cut = cut ? cut + at : NULL,
                     .err = err,
                     .bulk = 1};
        int rc = submit(q, &r);
        if (rc) return rc;
        double per = r.seconds / (double)m;
        if (per > 0 && (least == 0 || per < least)) least = per;
        slice = least > 0 ? (size_t)(BULK_SLICE_SECONDS / least) : BULK_SLICE_MAX;
        if (slice < 1) slice = 1;
        if (slice > BULK_SLICE_MAX) slice = BULK_SLICE_MAX;
        at += m;
    }
    return 0;
}

void ragd_embedq_get_stats(ragd_embedq *q, ragd_embedq_stats *out)
{
    pthread_mutex_lock(&q->mu);
    *out = q->stats;
    pthread_mutex_unlock(&q->mu);
}
