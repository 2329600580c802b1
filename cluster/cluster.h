/* cluster/cluster.h: the door of the cluster module (PostgreSQL as the shared store).
 *
 * With a PostgreSQL URL for the database, PostgreSQL holds the truth:
 * documents, chunks with their vectors, API keys, the embedding model, the
 * change log and the ingest queue. Every program that searches keeps a
 * local replica: an ordinary SQLite database (store/) that follows the
 * change log by sequence number, so that a search on a node is the
 * single-machine search, never waits on the network, and goes on when
 * PostgreSQL is unreachable.
 *
 *   writers   publish a document (read from a staging SQLite database where
 *             the ingest pipeline put it) in one PostgreSQL transaction that
 *             also appends to the change log (cluster/publish.c);
 *   replicas  apply the log in SQLite transactions that also record the
 *             sequence reached, so a replica killed at any point resumes
 *             where its last transaction ended (cluster/follow.c);
 *   workers   claim ingest jobs with FOR UPDATE SKIP LOCKED and a lease;
 *             a job's document and the job's end commit together, so a
 *             document is never committed twice (cluster/jobs.c).
 *
 * A `clu` is one connection; it is not shared between threads (ragd keeps
 * one per thread that needs one). Every call reconnects when the
 * connection was lost (with back-off between failed attempts), and a
 * PostgreSQL error is reported as RAG_ERR_IO (unreachable) or RAG_ERR_DB,
 * naming the server as host:port/dbname, never with its password. */
#ifndef RAG_CLUSTER_CLUSTER_H
#define RAG_CLUSTER_CLUSTER_H

#include "base/buf.h"
#include "base/err.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct clu clu;

/* Whether `db` names a PostgreSQL database rather than a SQLite file:
 * a postgresql:// or postgres:// URL, or a libpq conninfo string
 * ("host=... dbname=..."). */
int clu_is_url(const char *db);

/* `db` with any password removed (URL userinfo or conninfo password=), for
 * logs, errors and `rag config`. A new string (rag_free). */
char *clu_redact(const char *db);

typedef struct clu_params {
    int statement_timeout_s; /* each statement at most this long (default 30) */
    int connect_timeout_s;   /* default 10 */
    int readonly;            /* do not create or migrate the schema */
} clu_params;

void clu_default_params(clu_params *p);

/* Connects and migrates the schema to this program's version (a newer
 * schema is refused). Fails (RAG_ERR_IO) when PostgreSQL cannot be
 * reached. */
int clu_open(const char *url, const clu_params *p, clu **out, rag_err *err);
void clu_close(clu *c);
/* host:port/dbname (no password), for messages. */
const char *clu_name(const clu *c);
/* The cluster's identity (a random id made when its schema was created). */
const char *clu_id(const clu *c);
int clu_schema_version(void);

/* ---- the change log ----------------------------------------------------------------- */
/* The last sequence number of the change log (0 when empty). */
int clu_log_head(clu *c, int64_t *seq, rag_err *err);

/* ---- documents (cluster/publish.c) --------------------------------------------------- */
/* The cluster's record of a document, for incremental ingestion. */
typedef struct clu_doc {
    int64_t id, size, mtime_ns;
    char content_hash[65];
    char *labels; /* sorted, comma-joined */
    char *ext_id; /* or NULL */
} clu_doc;
void clu_doc_free(clu_doc *d);
/* 1 and *out when the cluster holds a document of this uri, 0 when not. */
int clu_doc_find(clu *c, const char *uri, clu_doc *out, rag_err *err);

/* Copies the document `uri` of `staging` (its chunks, vectors, labels and
 * embedding model) into the cluster in one transaction, replacing the
 * document of the same uri with its chunks; appends to the change log. With job_id,
 * the job's end is committed in the same transaction, and only while this
 * worker (lease_token) still holds its lease (RAG_ERR_BUSY otherwise:
 * nothing is written). A staging model other than the cluster's is
 * refused (RAG_ERR_INVALID). upload: the bytes of an uploaded document,
 * kept with it (table uploads), or NULL. *id_out: its id in the cluster. */
int clu_publish(clu *c, store *staging, const char *uri, int64_t job_id, int64_t lease_token,
                const rag_buf *upload, int64_t *id_out, rag_err *err);
/* Content unchanged: a new mtime and labels (NULL: kept). */
int clu_doc_touch(clu *c, int64_t id, int64_t mtime_ns, const char *labels, rag_err *err);
/* 1 when document id was removed, 0 when there was none. */
int clu_doc_delete(clu *c, int64_t id, rag_err *err);

/* ---- API keys ------------------------------------------------------------------------ */
int clu_key_add(clu *c, const store_key *k, rag_err *err);
int clu_key_list(clu *c, store_key **out, size_t *n, rag_err *err);
/* 1 when a key of that name was removed, 0 when there was none. */
int clu_key_delete(clu *c, const char *name, rag_err *err);

/* ---- replicas (cluster/follow.c) ----------------------------------------------------- */
/* Where a replica lives unless cluster.replica says: replica.db beside the
 * default database (store_default_path). A new string (rag_free). */
char *clu_replica_default_path(void);

typedef struct clu_follow_report {
    int64_t seq_before, seq_after; /* the replica's position in the log */
    size_t docs, keys;             /* documents applied; key-table reloads */
    int full;                      /* a full copy (new replica, or the log was cut) */
} clu_follow_report;

/* Brings `replica` up to the change log's head: each batch is read in one
 * snapshot of PostgreSQL and applied in one SQLite transaction together
 * with the sequence reached. A replica of another cluster is refused. */
int clu_follow(clu *c, store *replica, clu_follow_report *rep, rag_err *err);
/* The replica's position: the last sequence applied (0: none) and when it
 * last caught up with the head (seconds since the epoch, 0: never). */
int clu_replica_position(store *replica, int64_t *seq, double *synced_at, rag_err *err);
/* Compares the replica with the cluster (documents, labels, chunk ids and
 * texts, vectors), after bringing it up to date; problems are appended. */
int clu_check(clu *c, store *replica, rag_strv *problems, rag_err *err);

/* ---- the ingest queue (cluster/jobs.c) ----------------------------------------------- */
typedef enum clu_job_kind { CLU_JOB_PATH, CLU_JOB_URL, CLU_JOB_BYTES } clu_job_kind;

typedef struct clu_job_in {
    clu_job_kind kind;
    const char *source; /* path (absolute), URL, or the uri of the bytes */
    const char *labels; /* sorted, comma-joined; NULL: new documents get
                         * default_labels and existing ones keep theirs */
    const char *default_labels;
    const char *ext_id; /* or NULL */
    const void *bytes;  /* CLU_JOB_BYTES */
    size_t n_bytes;
    const char *content_type; /* CLU_JOB_BYTES, CLU_JOB_URL: may be NULL */
    int max_attempts;         /* 0: 3 */
} clu_job_in;

int clu_job_enqueue(clu *c, const clu_job_in *j, int64_t *id, rag_err *err);

typedef struct clu_job {
    int64_t id, lease_token;
    clu_job_kind kind;
    char *source, *labels, *default_labels, *ext_id, *content_type;
    rag_buf bytes;
    int attempt; /* 1 for the first */
} clu_job;
void clu_job_free(clu_job *j);

/* Claims the oldest queued job (or one whose lease expired): 1 and *out,
 * 0 when there is none. The lease lasts lease_s seconds; clu_job_renew
 * extends it. A job whose lease expired max_attempts times ends failed. */
int clu_job_claim(clu *c, const char *worker, int lease_s, clu_job *out, rag_err *err);
int clu_job_renew(clu *c, const clu_job *j, int lease_s, rag_err *err);
/* Gives a job back to the queue at once, this attempt not counted (the
 * worker lost PostgreSQL in the middle of it, not the job's fault):
 * RAG_ERR_BUSY when the lease is no longer this worker's. */
int clu_job_release(clu *c, const clu_job *j, rag_err *err);
/* Ends a job without a document to publish: outcome "unchanged",
 * "skipped", "updated" (labels only) or "failed" with its reason. */
int clu_job_end(clu *c, const clu_job *j, const char *outcome, const char *reason,
                int64_t document_id, rag_err *err);

typedef struct clu_worker_stats {
    char *name;
    int64_t jobs_done;
    double seen_s_ago, jobs_per_s; /* over the last minute */
} clu_worker_stats;

typedef struct clu_outcome_count {
    char outcome[16]; /* added, updated, unchanged, skipped, failed */
    int64_t n;
} clu_outcome_count;

typedef struct clu_queue_stats {
    int64_t queued, running, done, failed;
    clu_outcome_count done_by[8]; /* ended jobs by outcome */
    size_t n_done_by;
    clu_worker_stats *workers;
    size_t n_workers;
} clu_queue_stats;

/* The jobs first..last (0, 0: all of them) by state and outcome, and every
 * worker (all jobs). */
int clu_queue_stats_get(clu *c, int64_t first, int64_t last, clu_queue_stats *out, rag_err *err);
void clu_queue_stats_free(clu_queue_stats *q);
/* The reasons of the failed jobs (source: reason), newest first, at most max. */
int clu_queue_failures(clu *c, size_t max, rag_strv *out, rag_err *err);

#endif
