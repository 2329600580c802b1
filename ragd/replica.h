/* ragd/replica.h: a ragd node of a cluster keeps its replica up to date.
 *
 * In cluster mode (db is a PostgreSQL URL) the node's database is its
 * replica (cluster/cluster.h): every search reads it as on one machine. A
 * thread follows the cluster's change log every `poll` seconds, applying
 * what it finds on the engine's write connection under the engine's write
 * lock; uploads and deletions go to the cluster first and are applied to
 * the replica before they are answered, so they are searchable here at
 * once. When PostgreSQL is unreachable, searches go on from the replica as
 * it stands, writes are refused (503), and the thread keeps trying with
 * back-off: everything resumes by itself. */
#ifndef RAG_RAGD_REPLICA_H
#define RAG_RAGD_REPLICA_H

#include "base/buf.h"
#include "base/err.h"
#include "store/store.h"

#include <pthread.h>
#include <stdint.h>

typedef struct ragd_replica ragd_replica;

typedef struct ragd_replica_params {
    const char *url;  /* the cluster (PostgreSQL URL or conninfo) */
    const char *path; /* the replica (a SQLite database) */
    double poll;      /* seconds between looks at the log */
    double max_lag;   /* seconds behind before /health says "stale" */
    int statement_timeout_s;
    /* called by the following thread after it applied changes (not under
     * the write lock): docs, and whether the keys changed */
    void (*on_change)(void *ctx, size_t docs, int keys);
    void *ctx;
} ragd_replica_params;

/* Connects and brings the replica up to date once. When PostgreSQL cannot
 * be reached, a replica that followed the cluster before is used as it
 * stands (with a warning); an empty one is an error. */
int ragd_replica_open(const ragd_replica_params *p, ragd_replica **out, rag_err *err);
/* Starts following on `writer` (a connection to the replica, used under
 * writer_mu by everyone). */
int ragd_replica_start(ragd_replica *r, store *writer, pthread_mutex_t *writer_mu, rag_err *err);
void ragd_replica_free(ragd_replica *r); /* stops the thread */

/* Under the write lock: publishes the document `uri` of staging (with the
 * uploaded bytes, when given) and applies it to the replica. A cluster
 * that cannot be reached is RAG_ERR_INTERRUPTED (503) saying so. */
int ragd_replica_publish(ragd_replica *r, store *staging, const char *uri, const rag_buf *upload,
                         int64_t *id, rag_err *err);
/* Under the write lock: removes document id from the cluster and the
 * replica; 1 removed, 0 there was none. */
int ragd_replica_delete(ragd_replica *r, int64_t id, rag_err *err);

typedef struct ragd_replica_status {
    int64_t seq;      /* the last change applied */
    double lag_s;     /* seconds since the replica was last known to be at the log's head */
    int connected;    /* the last look at the cluster succeeded */
    int stale;        /* lag_s > max_lag */
    uint64_t applied; /* documents applied since start */
    uint64_t failures;
    uint64_t keys_version; /* bumped when the keys changed */
    char name[256];        /* the cluster, host:port/dbname (no password) */
} ragd_replica_status;

void ragd_replica_get_status(ragd_replica *r, ragd_replica_status *st);

#endif
