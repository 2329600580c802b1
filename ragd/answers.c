/* ragd/answers.c: the thread that records answers and ratings (see
 * ragd/answers.h). */
#include "ragd/answers.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "ragd/engine.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* Answers that may wait for the thread: past it, new ones are dropped
 * (and counted) rather than held in memory without bound. */
#define MAX_QUEUED 1024
/* Pruning: after this many answers recorded, and at least this often. */
#define PRUNE_EVERY 500
#define PRUNE_SECONDS 3600.0

typedef enum { JOB_RECORD, JOB_RATE } job_kind;

typedef struct job {
    struct job *next;
    job_kind kind;
    /* JOB_RECORD: the answer and the copies it points into */
    store_answer a;
    store_answer_cite *cites;
    char *strings[7];
    /* JOB_RATE: the caller's (it waits), and the result */
    const char *key_name, *id, *rating, *comment;
    int done, rc, replaced;
    rag_err err;
} job;

struct ragd_answers {
    ragd_answers_params p;
    store *st;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    job *head, *tail;
    size_t n_queued; /* answers in the queue */
    int stop;
    ragd_answers_stats stats;
    double last_prune; /* rag_now_s() */
    uint64_t since_prune;
};

static char *dup_or_null(const char *s)
{
    return s ? rag_xstrdup(s) : NULL;
}

static void job_free(job *j)
{
    for (size_t i = 0; i < sizeof j->strings / sizeof j->strings[0]; i++)
        rag_free(j->strings[i]);
    for (size_t i = 0; i < j->a.n_cites; i++)
        rag_free((char *)j->cites[i].uri);
    rag_free(j->cites);
    rag_free(j);
}

/* Deletes what is past keep_days and beyond max_answers. */
static void prune(ragd_answers *a)
{
    rag_err err = {0};
    int64_t n = 0, before = (int64_t)time(NULL) - (int64_t)a->p.keep_days * 86400;
    if (a->p.keep_days <= 0) before = INT64_MAX; /* none are kept */
    if (store_answers_prune(a->st, before, a->p.max_answers, &n, &err))
        rag_log_warn("answers: pruning: %s", err.msg);
    else if (n)
        rag_log_info("answers: %lld old answers deleted", (long long)n);
    a->last_prune = rag_now_s();
    a->since_prune = 0;
}

/* Commits the open transaction of *in_tx answers, counting them written
 * or failed; *in_tx is 0 after. */
static void commit_batch(ragd_answers *a, size_t *in_tx, size_t *written, size_t *failed)
{
    rag_err err = {0};
    if (store_commit(a->st, &err)) {
        rag_log_warn("answers: %zu answers were not recorded: %s", *in_tx, err.msg);
        store_rollback(a->st);
        *failed += *in_tx;
    } else {
        *written += *in_tx;
    }
    *in_tx = 0;
}

/* Writes the jobs of one turn, in order: the answers in one transaction,
 * ended before each rating (which runs its own). */
static void run_jobs(ragd_answers *a, job *list)
{
    rag_err err = {0};
    size_t in_tx = 0, failed = 0, written = 0;
    int open = 0, broken = 0;
    for (job *j = list; j; j = j->next) {
        if (j->kind == JOB_RECORD) {
            if (broken) { /* the transaction failed: the rest of it goes too */
                failed++;
                continue;
            }
            if (!open && store_begin(a->st, &err)) {
                rag_log_warn("answers: an answer was not recorded: %s", err.msg);
                failed++;
                continue;
            }
            open = 1;
            in_tx++;
            if (store_answer_record(a->st, &j->a, &err)) {
                rag_log_warn("answers: %zu answers were not recorded: %s", in_tx, err.msg);
                store_rollback(a->st);
                failed += in_tx;
                open = 0;
                in_tx = 0;
                broken = 1;
            }
            continue;
        }
        broken = 0;
        if (open) commit_batch(a, &in_tx, &written, &failed);
        open = 0;
        j->rc = store_answer_rate(a->st, j->key_name, j->id, j->rating, j->comment,
                                  (int64_t)time(NULL), &j->replaced, &j->err);
    }
    if (open) commit_batch(a, &in_tx, &written, &failed);
    pthread_mutex_lock(&a->mu);
    a->stats.recorded += written;
    a->stats.failed += failed;
    for (job *j = list; j; j = j->next)
        if (j->kind == JOB_RATE && j->rc == 1) {
            if (!strcmp(j->rating, "up"))
                a->stats.rated_up++;
            else
                a->stats.rated_down++;
        }
    pthread_mutex_unlock(&a->mu);
    a->since_prune += written;
}

static void *answers_main(void *arg)
{
    ragd_answers *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->head && !a->stop) {
            double left = PRUNE_SECONDS - (rag_now_s() - a->last_prune);
            if (left <= 0) break;
            struct timespec ts = ragd_wake_time(left);
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
        if (!a->head && a->stop) break;
        job *list = a->head;
        a->head = a->tail = NULL;
        a->n_queued = 0;
        pthread_mutex_unlock(&a->mu);
        run_jobs(a, list);
        if (a->since_prune >= PRUNE_EVERY || rag_now_s() - a->last_prune >= PRUNE_SECONDS) prune(a);
        pthread_mutex_lock(&a->mu);
        /* the answers are freed; the ratings belong to their waiting callers */
        for (job *j = list, *next; j; j = next) {
            next = j->next;
            if (j->kind == JOB_RATE)
                j->done = 1;
            else
                job_free(j);
        }
        pthread_cond_broadcast(&a->done_cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int ragd_answers_open(const ragd_answers_params *p, ragd_answers **out, rag_err *err)
{
    *out = NULL;
    ragd_answers *a = rag_xcalloc(1, sizeof *a);
    a->p = *p;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    pthread_cond_init(&a->done_cv, NULL);
    int rc = store_open(p->db_path, NULL, &a->st, err);
    if (rc) {
        ragd_answers_close(a);
        return rc;
    }
    prune(a);
    /* no signal is ever delivered to this thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&a->th, NULL, answers_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc) {
        ragd_answers_close(a);
        return rag_err_set(err, RAG_ERR_NOMEM, "cannot start the thread that records answers");
    }
    a->started = 1;
    *out = a;
    return 0;
}

void ragd_answers_close(ragd_answers *a)
{
    if (!a) return;
    if (a->started) {
        pthread_mutex_lock(&a->mu);
        a->stop = 1;
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->th, NULL);
    }
    store_close(a->st);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    pthread_cond_destroy(&a->done_cv);
    rag_free(a);
}

/* Appends j to the queue and wakes the thread (under mu). */
static void enqueue(ragd_answers *a, job *j)
{
    if (a->tail)
        a->tail->next = j;
    else
        a->head = j;
    a->tail = j;
    pthread_cond_signal(&a->cv);
}

void ragd_answers_record(ragd_answers *a, const store_answer *ans)
{
    if (!a || a->p.keep_days <= 0) return;
    job *j = rag_xcalloc(1, sizeof *j);
    j->kind = JOB_RECORD;
    const char *src[7] = {ans->id,     ans->key_name,      ans->question, ans->rewrite,
                          ans->answer, ans->settings_json, NULL};
    for (size_t i = 0; i < 6; i++)
        j->strings[i] = dup_or_null(src[i]);
    j->a = (store_answer){.id = j->strings[0],
                          .key_name = j->strings[1],
                          .question = j->strings[2],
                          .rewrite = j->strings[3],
                          .answer = j->strings[4],
                          .settings_json = j->strings[5],
                          .created_at = ans->created_at ? ans->created_at : (int64_t)time(NULL),
                          .n_cites = ans->n_cites};
    if (ans->n_cites) {
        j->cites = rag_xcalloc(ans->n_cites, sizeof *j->cites);
        for (size_t i = 0; i < ans->n_cites; i++) {
            j->cites[i] = ans->cites[i];
            j->cites[i].uri = rag_xstrdup(ans->cites[i].uri ? ans->cites[i].uri : "");
        }
    }
    j->a.cites = j->cites;
    pthread_mutex_lock(&a->mu);
    int full = a->n_queued >= MAX_QUEUED || a->stop;
    if (full) {
        a->stats.failed++;
    } else {
        a->n_queued++;
        enqueue(a, j);
    }
    pthread_mutex_unlock(&a->mu);
    if (full) {
        rag_log_warn("answers: %s was not recorded: %d answers are waiting to be written already",
                     ans->id, MAX_QUEUED);
        job_free(j);
    }
}

int ragd_answers_rate(ragd_answers *a, const char *key_name, const char *id, const char *rating,
                      const char *comment, int *replaced, rag_err *err)
{
    *replaced = 0;
    if (!a || a->p.keep_days <= 0) return 0; /* nothing is recorded: no answer is found */
    job j = {
        .kind = JOB_RATE, .key_name = key_name, .id = id, .rating = rating, .comment = comment};
    pthread_mutex_lock(&a->mu);
    if (a->stop) {
        pthread_mutex_unlock(&a->mu);
        return rag_err_set(err, RAG_ERR_INTERRUPTED, "stopping: ratings are no longer taken");
    }
    enqueue(a, &j);
    while (!j.done)
        pthread_cond_wait(&a->done_cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    if (j.rc < 0 && err) *err = j.err;
    *replaced = j.replaced;
    return j.rc;
}

void ragd_answers_stats_get(ragd_answers *a, ragd_answers_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    *out = a->stats;
    pthread_mutex_unlock(&a->mu);
}
