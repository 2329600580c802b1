/* rag/embedq.c: embedding requests batched across clients (see
 * rag/embedq.h). */
#include "rag/embedq.h"
#include "base/mem.h"

#include <string.h>

typedef struct request {
    const char *const *texts;
    size_t n;
    emb_input kind;
    float *out;
    rag_err *err;
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
    int busy;          /* someone is running a batch */
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

static int embed(ragd_embedq *q, const char *const *texts, size_t n, emb_input kind, float *out, rag_err *err)
{
    pthread_mutex_lock(q->model_mu);
    int rc = emb_embed(q->m, texts, n, kind, 1, out, NULL, err);
    pthread_mutex_unlock(q->model_mu);
    return rc;
}

/* Under mu: takes the oldest request and the others of its kind after it,
 * up to max_texts texts in all (the oldest always), out of the queue. */
static request *take_batch(ragd_embedq *q, size_t *n_texts)
{
    request *batch = NULL, **tail = &batch, **link = &q->head, *prev = NULL;
    emb_input kind = q->head->kind;
    *n_texts = 0;
    while (*link) {
        request *r = *link;
        if (r->kind == kind && (!batch || *n_texts + r->n <= q->max_texts)) {
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
        batch->rc = embed(q, batch->texts, batch->n, batch->kind, batch->out, batch->err);
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
    int rc = embed(q, texts, n_texts, batch->kind, out, &err);
    at = 0;
    for (request *r = batch; r; r = r->next) {
        if (rc) r->rc = embed(q, r->texts, r->n, r->kind, r->out, r->err);
        else memcpy(r->out, out + at * (size_t)dims, r->n * (size_t)dims * sizeof *out);
        at += r->n;
    }
    rag_free(out);
    rag_free(texts);
}

int ragd_embedq_embed(ragd_embedq *q, const char *const *texts, size_t n, emb_input kind, float *out,
                      rag_err *err)
{
    if (n == 0) return 0;
    request me = {.texts = texts, .n = n, .kind = kind, .out = out, .err = err};
    pthread_mutex_lock(&q->mu);
    if (q->tail) q->tail->next = &me;
    else q->head = &me;
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
    return me.rc;
}

void ragd_embedq_get_stats(ragd_embedq *q, ragd_embedq_stats *out)
{
    pthread_mutex_lock(&q->mu);
    *out = q->stats;
    pthread_mutex_unlock(&q->mu);
}
