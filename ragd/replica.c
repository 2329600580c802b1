/* ragd/replica.c: the node's replica of the cluster, followed by a thread
 * of its own (see ragd/replica.h). Two connections to PostgreSQL: one for
 * the thread, one for the writes of requests (used under the engine's
 * write lock), each reopened when lost. */
#include "ragd/replica.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "cluster/cluster.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

struct ragd_replica {
    ragd_replica_params p;
    char *url, *path;
    clu *follow_c, *write_c;
    store *writer;
    pthread_mutex_t *writer_mu;
    pthread_t th;
    int started, stop;
    pthread_mutex_t mu; /* the status below and stop */
    pthread_cond_t cv;
    int64_t seq;
    double at_head; /* rag_now_s() when last known at the head; 0: never */
    int connected;
    uint64_t applied, failures, keys_version;
    char name[256];
};

/* A connection to the cluster in *slot, opened when missing. */
static int conn(ragd_replica *r, clu **slot, rag_err *err)
{
    if (*slot) return 0;
    clu_params cp;
    clu_default_params(&cp);
    cp.statement_timeout_s = r->p.statement_timeout_s > 0 ? r->p.statement_timeout_s : 30;
    cp.connect_timeout_s = 5;
    return clu_open(r->url, &cp, slot, err);
}

/* The outcome of a look at the cluster: the position comes from the
 * report (a failed look leaves it as it was). */
static void note(ragd_replica *r, int ok, const clu_follow_report *rep)
{
    pthread_mutex_lock(&r->mu);
    if (rep) r->seq = rep->seq_after;
    r->connected = ok;
    if (ok) r->at_head = rag_now_s();
    if (!ok) r->failures++;
    if (rep) r->applied += rep->docs;
    if (rep && rep->keys) r->keys_version++;
    pthread_mutex_unlock(&r->mu);
}

int ragd_replica_open(const ragd_replica_params *p, ragd_replica **out, rag_err *err)
{
    *out = NULL;
    ragd_replica *r = rag_xcalloc(1, sizeof *r);
    r->p = *p;
    r->url = rag_xstrdup(p->url);
    r->path = rag_xstrdup(p->path);
    r->p.url = r->url;
    r->p.path = r->path;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    char *shown = clu_redact(p->url);
    snprintf(r->name, sizeof r->name, "%s", shown);
    rag_free(shown);
    store *s = NULL;
    int rc = store_open(r->path, NULL, &s, err);
    if (rc) {
        ragd_replica_free(r);
        return rc;
    }
    rag_err cerr = {0};
    clu_follow_report rep;
    int crc = conn(r, &r->follow_c, &cerr);
    if (!crc) {
        snprintf(r->name, sizeof r->name, "%s", clu_name(r->follow_c));
        crc = clu_follow(r->follow_c, s, &rep, &cerr);
    }
    note(r, crc == 0, crc ? NULL : &rep);
    if (crc) {
        int64_t seq = 0;
        clu_replica_position(s, &seq, NULL, err);
        r->seq = seq; /* no thread yet */
        if (crc != RAG_ERR_IO || seq == 0) {
            rc = rag_err_set(err, crc, "%s%s", cerr.msg,
                             crc == RAG_ERR_IO ? " (and the replica is empty: nothing to serve)"
                                               : "");
        } else {
            rag_log_warn("ragd: %s; serving the replica %s as it stands (change %lld) until "
                         "the cluster is back",
                         cerr.msg, r->path, (long long)seq);
        }
    }
    store_close(s);
    if (rc) {
        ragd_replica_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static void *follow_main(void *arg)
{
    ragd_replica *r = arg;
    double backoff = 0;
    int failing = 0;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        double wait = r->p.poll > 0 ? r->p.poll : 0.2;
        if (backoff > wait) wait = backoff;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long ns = ts.tv_nsec + (long long)(wait * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000LL);
        ts.tv_nsec = (long)(ns % 1000000000LL);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (r->stop) break;
        pthread_mutex_unlock(&r->mu);

        rag_err err = {0};
        clu_follow_report rep = {0};
        int rc = conn(r, &r->follow_c, &err);
        if (!rc) {
            pthread_mutex_lock(r->writer_mu);
            rc = clu_follow(r->follow_c, r->writer, &rep, &err);
            pthread_mutex_unlock(r->writer_mu);
            note(r, rc == 0, rc ? NULL : &rep);
        } else {
            note(r, 0, NULL);
        }
        if (rc) {
            if (!failing) rag_log_warn("ragd: following the cluster: %s", err.msg);
            failing = 1;
            backoff = backoff ? backoff * 2 : 0.25;
            if (backoff > 5) backoff = 5;
        } else {
            if (failing) rag_log_info("ragd: following the cluster again");
            failing = 0;
            backoff = 0;
            if ((rep.docs || rep.keys) && r->p.on_change)
                r->p.on_change(r->p.ctx, rep.docs, rep.keys != 0);
        }
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int ragd_replica_start(ragd_replica *r, store *writer, pthread_mutex_t *writer_mu, rag_err *err)
{
    r->writer = writer;
    r->writer_mu = writer_mu;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&r->th, NULL, follow_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc) return rag_err_set(err, RAG_ERR_NOMEM, "cannot start the replication thread");
    r->started = 1;
    return 0;
}

void ragd_replica_free(ragd_replica *r)
{
    if (!r) return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->th, NULL);
    }
    clu_close(r->follow_c);
    clu_close(r->write_c);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    rag_free(r->url);
    rag_free(r->path);
    rag_free(r);
}

/* A write the cluster could not take: 503, saying why and what goes on. */
static int write_refused(ragd_replica *r, int rc, rag_err *err)
{
    if (rc != RAG_ERR_IO) return rc;
    /* the connection is reopened by the next write */
    clu_close(r->write_c);
    r->write_c = NULL;
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    return rag_err_set(err, RAG_ERR_INTERRUPTED,
                       "the cluster's database is unreachable (%.300s): uploads and deletions "
                       "are refused until it is back; searches go on from this node's replica",
                       msg);
}

/* Applies the cluster's log to the replica now (under the write lock). */
static void apply_now(ragd_replica *r)
{
    rag_err err = {0};
    clu_follow_report rep = {0};
    int rc = clu_follow(r->write_c, r->writer, &rep, &err);
    note(r, rc == 0, rc ? NULL : &rep);
    if (rc)
        rag_log_warn("ragd: applying a write to the replica: %s (the thread will)", err.msg);
    else if (rep.keys && r->p.on_change)
        r->p.on_change(r->p.ctx, rep.docs, 1);
}

int ragd_replica_publish(ragd_replica *r, store *staging, const char *uri, const rag_buf *upload,
                         int64_t *id, rag_err *err)
{
    int rc = conn(r, &r->write_c, err);
    if (!rc) rc = clu_publish(r->write_c, staging, uri, 0, 0, upload, id, err);
    if (rc) return write_refused(r, rc, err);
    apply_now(r);
    return 0;
}

int ragd_replica_delete(ragd_replica *r, int64_t id, rag_err *err)
{
    int rc = conn(r, &r->write_c, err);
    if (!rc) rc = clu_doc_delete(r->write_c, id, err);
    if (rc < 0) return write_refused(r, rc, err);
    apply_now(r);
    return rc;
}

void ragd_replica_get_status(ragd_replica *r, ragd_replica_status *st)
{
    pthread_mutex_lock(&r->mu);
    st->seq = r->seq;
    st->lag_s = r->at_head > 0 ? rag_now_s() - r->at_head : -1;
    st->connected = r->connected;
    st->stale = st->lag_s < 0 || st->lag_s > r->p.max_lag;
    st->applied = r->applied;
    st->failures = r->failures;
    st->keys_version = r->keys_version;
    snprintf(st->name, sizeof st->name, "%s", r->name);
    pthread_mutex_unlock(&r->mu);
}
