/* llm/batcher.c: continuous batching (see llm/batcher.h).
 *
 * Callers put a job on a list and sleep until the batcher thread marks it
 * finished; everything is under one mutex, which no one holds while the
 * model runs. The thread loops: when single tokens wait, it runs a step,
 * after waiting (at most gather_ms) for the generations of the last step
 * that have not asked again yet: they are sampling their next token, and
 * a step without them would make them wait a whole step more. Then, if a
 * prompt waits, it runs one chunk of the oldest. */
#include "llm/batcher.h"
#include "base/mem.h"
#include "llm/batch.h"
#include "llm/model_int.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

typedef struct job {
    llm_context *c;
    const int32_t *tokens;
    int n, done;
    int finished, rc;
    rag_err *err;
    struct job *next;
} job;

struct llm_batcher {
    const llm_model *m;
    llm_batcher_params p;
    llm_batch *batch;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the thread waits here for jobs */
    pthread_cond_t done; /* callers wait here for theirs */
    int stop;
    job *tokens;                 /* single tokens for the next step (a stack) */
    job *prompts, *prompts_tail; /* oldest first */
    llm_context **expected;      /* in the last step, not left, not asked again */
    int n_expected, cap;         /* cap: of expected and of the step arrays */
    job **step_jobs;             /* the step being run */
    llm_context **step_ctx;
    int32_t *step_tok;
    llm_batcher_stats stats;
};

static void add_ms(struct timespec *t, double ms)
{
    long ns = t->tv_nsec + (long)(ms * 1e6);
    t->tv_sec += ns / 1000000000L;
    t->tv_nsec = ns % 1000000000L;
}

/* Under mu. */
static void forget_expected(llm_batcher *b, const llm_context *c)
{
    for (int i = 0; i < b->n_expected; i++)
        if (b->expected[i] == c) {
            b->expected[i] = b->expected[--b->n_expected];
            return;
        }
}

static int any_expected_missing(const llm_batcher *b)
{
    for (int i = 0; i < b->n_expected; i++) {
        int asked = 0;
        for (const job *j = b->tokens; j && !asked; j = j->next)
            asked = j->c == b->expected[i];
        if (!asked) return 1;
    }
    return 0;
}

static void grow(llm_batcher *b, int need)
{
    if (need <= b->cap) return;
    int cap = b->cap ? b->cap : 8;
    while (cap < need)
        cap *= 2;
    b->expected = rag_xrealloc(b->expected, (size_t)cap * sizeof *b->expected);
    b->step_jobs = rag_xrealloc(b->step_jobs, (size_t)cap * sizeof *b->step_jobs);
    b->step_ctx = rag_xrealloc(b->step_ctx, (size_t)cap * sizeof *b->step_ctx);
    b->step_tok = rag_xrealloc(b->step_tok, (size_t)cap * sizeof *b->step_tok);
    b->cap = cap;
}

static void finish(job *j, int rc)
{
    j->rc = rc;
    j->finished = 1;
}

/* Under mu, released while the model runs. */
static void run_step(llm_batcher *b)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    add_ms(&deadline, b->p.gather_ms);
    while (!b->stop && any_expected_missing(b))
        if (pthread_cond_timedwait(&b->work, &b->mu, &deadline)) break;
    int n = 0;
    for (job *j = b->tokens; j; j = j->next)
        n++;
    grow(b, n);
    n = 0;
    for (job *j = b->tokens; j; j = j->next, n++) {
        b->step_jobs[n] = j;
        b->step_ctx[n] = j->c;
        b->step_tok[n] = j->tokens[0];
        b->expected[n] = j->c;
    }
    b->tokens = NULL;
    b->n_expected = n;
    pthread_mutex_unlock(&b->mu);
    rag_err err = {0};
    int rc = llm_batch_decode(b->batch, b->step_ctx, b->step_tok, n, &err);
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < n; i++) {
        if (rc) *b->step_jobs[i]->err = err; /* checked when queued: should not happen */
        finish(b->step_jobs[i], rc);
    }
    b->stats.steps++;
    b->stats.step_tokens += (uint64_t)n;
    pthread_cond_broadcast(&b->done);
}

static void run_prompt_chunk(llm_batcher *b)
{
    job *j = b->prompts;
    int chunk = llm_pass_size(j->n - j->done, b->p.prefill_chunk);
    pthread_mutex_unlock(&b->mu);
    int rc = llm_decode(j->c, j->tokens + j->done, chunk, j->err);
    pthread_mutex_lock(&b->mu);
    j->done += chunk;
    b->stats.prompt_chunks++;
    b->stats.prompt_tokens += (uint64_t)chunk;
    if (rc || j->done == j->n) {
        b->prompts = j->next;
        if (!b->prompts) b->prompts_tail = NULL;
        finish(j, rc);
        pthread_cond_broadcast(&b->done);
    }
}

static void *batcher_main(void *arg)
{
    llm_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        if (!b->tokens && !b->prompts) {
            pthread_cond_wait(&b->work, &b->mu);
            continue;
        }
        if (b->tokens) run_step(b);
        if (b->prompts && !b->stop) run_prompt_chunk(b);
    }
    /* what is still waiting is told so */
    for (job *j = b->tokens; j; j = j->next) {
        rag_err_set(j->err, RAG_ERR_INTERRUPTED, "the model is shutting down");
        finish(j, RAG_ERR_INTERRUPTED);
    }
    for (job *j = b->prompts; j; j = j->next) {
        rag_err_set(j->err, RAG_ERR_INTERRUPTED, "the model is shutting down");
        finish(j, RAG_ERR_INTERRUPTED);
    }
    b->tokens = b->prompts = b->prompts_tail = NULL;
    pthread_cond_broadcast(&b->done);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int llm_batcher_new(const llm_model *m, const llm_batcher_params *p, llm_batcher **out,
                    rag_err *err)
{
    *out = NULL;
    llm_batcher *b = rag_xcalloc(1, sizeof *b);
    b->m = m;
    b->p = *p;
    if (b->p.prefill_chunk <= 0) b->p.prefill_chunk = 128;
    if (b->p.gather_ms <= 0) b->p.gather_ms = 5;
    int rc = llm_batch_new(m, p->max_ctx, p->n_threads, &b->batch, err);
    if (rc) {
        rag_free(b);
        return rc;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->work, NULL);
    pthread_cond_init(&b->done, NULL);
    rc = pthread_create(&b->thread, NULL, batcher_main, b);
    if (rc) {
        llm_batcher_free(b);
        return rag_err_sys(err, rc, "starting the batching thread");
    }
    b->started = 1;
    *out = b;
    return 0;
}

void llm_batcher_free(llm_batcher *b)
{
    if (!b) return;
    if (b->started) {
        pthread_mutex_lock(&b->mu);
        b->stop = 1;
        pthread_cond_signal(&b->work);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->thread, NULL);
    }
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->done);
    pthread_mutex_destroy(&b->mu);
    llm_batch_free(b->batch);
    rag_free(b->expected);
    rag_free(b->step_jobs);
    rag_free(b->step_ctx);
    rag_free(b->step_tok);
    rag_free(b);
}

/* What llm_decode and llm_batch_decode would refuse, refused before the
 * job is queued, so that a step never fails for one of its sequences. */
static int check(const llm_batcher *b, const llm_context *c, const int32_t *tokens, int n,
                 rag_err *err)
{
    if (n <= 0) return rag_err_set(err, RAG_ERR_INVALID, "no tokens to decode");
    if (c->m != b->m || c->p.embeddings || c->p.n_ctx > b->p.max_ctx)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "a context the batcher cannot serve (another model, embeddings mode, or "
                           "more than %d positions)",
                           b->p.max_ctx);
    if (n > c->p.n_ctx - c->n_past)
        return rag_err_set(err, RAG_ERR_LIMIT,
                           "the context would overflow: %d tokens in the cache + %d new > %d "
                           "(the context size)",
                           c->n_past, n, c->p.n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= b->m->hp.n_vocab)
            return rag_err_set(err, RAG_ERR_INVALID,
                               "token %d at position %d is outside the vocabulary (%d)", tokens[i],
                               i, b->m->hp.n_vocab);
    return 0;
}

int llm_batcher_decode(llm_batcher *b, llm_context *c, const int32_t *tokens, int n, rag_err *err)
{
    int rc = check(b, c, tokens, n, err);
    if (rc) return rc;
    job j = {.c = c, .tokens = tokens, .n = n, .err = err};
    pthread_mutex_lock(&b->mu);
    if (b->stop) {
        pthread_mutex_unlock(&b->mu);
        return rag_err_set(err, RAG_ERR_INTERRUPTED, "the model is shutting down");
    }
    if (n == 1) {
        j.next = b->tokens;
        b->tokens = &j;
    } else {
        forget_expected(b, c); /* a new prompt: not in the coming steps */
        if (b->prompts_tail)
            b->prompts_tail->next = &j;
        else
            b->prompts = &j;
        b->prompts_tail = &j;
    }
    pthread_cond_signal(&b->work);
    while (!j.finished)
        pthread_cond_wait(&b->done, &b->mu);
    pthread_mutex_unlock(&b->mu);
    return j.rc;
}

void llm_batcher_leave(llm_batcher *b, llm_context *c)
{
    pthread_mutex_lock(&b->mu);
    forget_expected(b, c);
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
}

void llm_batcher_get_stats(llm_batcher *b, llm_batcher_stats *out)
{
    pthread_mutex_lock(&b->mu);
    *out = b->stats;
    pthread_mutex_unlock(&b->mu);
}
