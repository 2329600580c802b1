/* cluster/jobs.c: the ingest queue (table jobs) and its workers.
 *
 * A job is one source: a path the workers can read, a URL, or bytes kept
 * in the job itself. A worker claims the oldest open job with
 * SELECT ... FOR UPDATE SKIP LOCKED (workers never wait on each other's
 * claims) and takes a lease on it: a token (the claiming transaction's id)
 * and a time. The job ends with its document (clu_publish) or with
 * clu_job_end, both only while the token is still the job's. A worker
 * that dies leaves its lease to expire; the job is then claimed again,
 * up to max_attempts times, after which it ends failed with the reason.
 * A worker that outlives its lease finds its token gone and keeps nothing,
 * so a document is never committed twice. */
#include "cluster/cluster_int.h"
#include "base/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_names[] = {"path", "url", "bytes"};

int clu_job_enqueue(clu *c, const clu_job_in *j, int64_t *id, rag_err *err)
{
    char ma[16];
    snprintf(ma, sizeof ma, "%d", j->max_attempts > 0 ? j->max_attempts : 3);
    const char *v[] = {kind_names[j->kind],
                       j->source,
                       j->labels,
                       j->default_labels ? j->default_labels : "",
                       j->ext_id,
                       j->content_type,
                       j->kind == CLU_JOB_BYTES ? (const char *)j->bytes : NULL,
                       ma};
    int lens[8] = {0, 0, 0, 0, 0, 0, (int)j->n_bytes, 0};
    int bin[8] = {0, 0, 0, 0, 0, 0, 1, 0};
    if (j->n_bytes > 1u << 30)
        return rag_err_set(err, RAG_ERR_LIMIT, "%s: %zu bytes: a job holds 1 GiB at most",
                           j->source, j->n_bytes);
    PGresult *r = clu_query(c,
                            "INSERT INTO jobs(kind, source, labels, default_labels, ext_id, "
                            "content_type, bytes, max_attempts) "
                            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                            8, v, lens, bin, err);
    if (!r) return err->code;
    if (id) *id = clu_col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

void clu_job_free(clu_job *j)
{
    rag_free(j->source);
    rag_free(j->labels);
    rag_free(j->default_labels);
    rag_free(j->ext_id);
    rag_free(j->content_type);
    rag_buf_free(&j->bytes);
    memset(j, 0, sizeof *j);
}

int clu_job_claim(clu *c, const char *worker, int lease_s, clu_job *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    char ls[16];
    snprintf(ls, sizeof ls, "%d", lease_s);
    const char *v[] = {worker, ls};
    /* leases that ran out for the last time end their jobs */
    int rc = clu_run(c,
                     "UPDATE jobs SET state = 'failed', outcome = 'failed', finished_at = now(), "
                     "reason = format('%s attempts: the worker (%s) stopped or ran out of time "
                     "each time', attempts, worker), lease_until = NULL "
                     "WHERE state = 'running' AND lease_until < now() AND attempts >= "
                     "max_attempts",
                     0, NULL, err);
    if (!rc)
        rc = clu_run(c,
                     "INSERT INTO workers(name) VALUES ($1) ON CONFLICT (name) DO UPDATE "
                     "SET seen_at = now()",
                     1, v, err);
    if (rc) return rc;
    PGresult *r = clu_query(
        c,
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $1, "
        "lease_token = txid_current(), lease_until = now() + make_interval(secs => $2::int) "
        "WHERE id = (SELECT id FROM jobs WHERE state = 'queued' OR (state = 'running' AND "
        "lease_until < now()) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, lease_token, kind, source, labels, default_labels, ext_id, content_type, "
        "bytes, attempts",
        2, v, NULL, NULL, err);
    if (!r) return err->code;
    int got = PQntuples(r) > 0;
    if (got) {
        out->id = clu_col_i64(r, 0, 0);
        out->lease_token = clu_col_i64(r, 0, 1);
        const char *k = PQgetvalue(r, 0, 2);
        out->kind = !strcmp(k, "url")     ? CLU_JOB_URL
                    : !strcmp(k, "bytes") ? CLU_JOB_BYTES
                                          : CLU_JOB_PATH;
        out->source = clu_col_str(r, 0, 3);
        out->labels = clu_col_str(r, 0, 4);
        out->default_labels = clu_col_str(r, 0, 5);
        out->ext_id = clu_col_str(r, 0, 6);
        out->content_type = clu_col_str(r, 0, 7);
        if (!PQgetisnull(r, 0, 8)) {
            size_t len = 0;
            unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 8), &len);
            if (b) {
                rag_buf_append(&out->bytes, b, len);
                PQfreemem(b);
            }
        }
        out->attempt = (int)clu_col_i64(r, 0, 9);
    }
    PQclear(r);
    return got;
}

/* Runs sql on job j ($1 its id, $2 its lease token, $3 extra when given)
 * while the lease is still this worker's; RAG_ERR_BUSY when it is not. */
static int with_lease(clu *c, const clu_job *j, const char *sql, const char *extra, rag_err *err)
{
    char id[24], tok[24];
    snprintf(id, sizeof id, "%lld", (long long)j->id);
    snprintf(tok, sizeof tok, "%lld", (long long)j->lease_token);
    const char *v[] = {id, tok, extra};
    PGresult *r = clu_query(c, sql, extra ? 3 : 2, v, NULL, NULL, err);
    if (!r) return err->code;
    int kept = atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    return kept ? 0
                : rag_err_set(err, RAG_ERR_BUSY, "job %lld: the lease was lost to another worker",
                              (long long)j->id);
}

int clu_job_renew(clu *c, const clu_job *j, int lease_s, rag_err *err)
{
    char ls[16];
    snprintf(ls, sizeof ls, "%d", lease_s);
    return with_lease(c, j,
                      "UPDATE jobs SET lease_until = now() + make_interval(secs => $3::int) "
                      "WHERE id = $1 AND lease_token = $2 AND state = 'running'",
                      ls, err);
}

int clu_job_release(clu *c, const clu_job *j, rag_err *err)
{
    return with_lease(c, j,
                      "UPDATE jobs SET state = 'queued', lease_until = NULL, "
                      "lease_token = NULL, attempts = greatest(attempts - 1, 0) "
                      "WHERE id = $1 AND lease_token = $2 AND state = 'running'",
                      NULL, err);
}

int clu_queue_stats_get(clu *c, int64_t first, int64_t last, clu_queue_stats *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    char a[24], b[24];
    snprintf(a, sizeof a, "%lld", (long long)(first ? first : 1));
    snprintf(b, sizeof b, "%lld", (long long)(last ? last : INT64_MAX));
    const char *v[] = {a, b};
    PGresult *r = clu_query(c,
                            "SELECT state, coalesce(outcome, ''), count(*) FROM jobs "
                            "WHERE id BETWEEN $1 AND $2 GROUP BY 1, 2 ORDER BY 1, 2",
                            2, v, NULL, NULL, err);
    if (!r) return err->code;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *s = PQgetvalue(r, i, 0), *o = PQgetvalue(r, i, 1);
        int64_t n = clu_col_i64(r, i, 2);
        if (!strcmp(s, "queued")) out->queued += n;
        if (!strcmp(s, "running")) out->running += n;
        if (!strcmp(s, "done")) out->done += n;
        if (!strcmp(s, "failed")) out->failed += n;
        if (*o && out->n_done_by < sizeof out->done_by / sizeof out->done_by[0]) {
            clu_outcome_count *oc = &out->done_by[out->n_done_by++];
            snprintf(oc->outcome, sizeof oc->outcome, "%s", o);
            oc->n = n;
        }
    }
    PQclear(r);
    r = clu_query(c,
                  "SELECT w.name, w.jobs_done, extract(epoch FROM now() - w.seen_at), "
                  "(SELECT count(*) FROM jobs j WHERE j.worker = w.name AND j.state = 'done' "
                  "AND j.finished_at > now() - interval '60 seconds') / 60.0 "
                  "FROM workers w ORDER BY w.name",
                  0, NULL, NULL, NULL, err);
    if (!r) return err->code;
    out->n_workers = (size_t)PQntuples(r);
    out->workers = rag_xcalloc(out->n_workers ? out->n_workers : 1, sizeof *out->workers);
    for (size_t i = 0; i < out->n_workers; i++) {
        clu_worker_stats *w = &out->workers[i];
        w->name = clu_col_str(r, (int)i, 0);
        w->jobs_done = clu_col_i64(r, (int)i, 1);
        w->seen_s_ago = atof(PQgetvalue(r, (int)i, 2));
        w->jobs_per_s = atof(PQgetvalue(r, (int)i, 3));
    }
    PQclear(r);
    return 0;
}

void clu_queue_stats_free(clu_queue_stats *q)
{
    for (size_t i = 0; i < q->n_workers; i++)
        rag_free(q->workers[i].name);
    rag_free(q->workers);
    memset(q, 0, sizeof *q);
}

int clu_queue_failures(clu *c, size_t max, rag_strv *out, rag_err *err)
{
    char m[24];
    snprintf(m, sizeof m, "%zu", max);
    const char *v[] = {m};
    PGresult *r = clu_query(c,
                            "SELECT source, coalesce(reason, '') FROM jobs WHERE state = 'failed' "
                            "ORDER BY finished_at DESC, id DESC LIMIT $1",
                            1, v, NULL, NULL, err);
    if (!r) return err->code;
    for (int i = 0; i < PQntuples(r); i++) {
        char *line = rag_xasprintf("%s: %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        rag_strv_push(out, line);
        rag_free(line);
    }
    PQclear(r);
    return 0;
}
