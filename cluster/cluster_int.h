/* cluster/cluster_int.h: what the files of cluster/ share (not a door).
 *
 * One `clu` wraps one libpq connection. Queries go through clu_query,
 * which reconnects first when the connection was lost and turns a failure
 * into a rag_err that names the server (host:port/dbname), never its
 * password. Parameters are always passed separately from the SQL text. */
#ifndef RAG_CLUSTER_CLUSTER_INT_H
#define RAG_CLUSTER_CLUSTER_INT_H

#include "cluster/cluster.h"

#include <libpq-fe.h>

struct clu {
    PGconn *conn;
    clu_params p;
    char name[256]; /* host:port/dbname */
    char id[64];    /* the cluster's id (settings 'cluster.id') */
    int in_tx;
    double retry_at, backoff; /* reconnecting: not before retry_at */
};

/* Connected, or reconnected now (RAG_ERR_IO when the server is down; after
 * a failed attempt the next one waits a back-off of 0.25 s doubling to 5 s,
 * failing at once meanwhile). Not inside a transaction: a connection lost
 * there fails the transaction. */
int clu_ensure(clu *c, rag_err *err);

/* Runs sql with n text parameters (NULL values are SQL NULL; lens/binary
 * may be NULL: all text). Returns the result (the caller PQclear()s it) or
 * NULL with *err set. */
PGresult *clu_query(clu *c, const char *sql, int n, const char *const *vals, const int *lens,
                    const int *binary, rag_err *err);
/* The same for a statement whose rows are not needed. */
int clu_run(clu *c, const char *sql, int n, const char *const *vals, rag_err *err);

int clu_begin(clu *c, const char *how, rag_err *err); /* how: NULL or "ISOLATION LEVEL ..." */
int clu_commit(clu *c, rag_err *err);
void clu_rollback(clu *c);

/* Serialises the end of writing transactions, so that the change log's
 * sequence numbers are handed out in commit order: a replica that read up
 * to seq N never later meets a smaller one. Call right before appending to
 * the log, inside the transaction. */
int clu_log_lock(clu *c, rag_err *err);
/* Appends ('doc', id) or ('keys', 0) to the change log. */
int clu_log_append(clu *c, const char *kind, int64_t ref, rag_err *err);

int clu_migrate(clu *c, rag_err *err);

/* The rows of the cluster's embedding model (settings 'embed.model_id'),
 * columns of models as m. */
#define CLU_MODEL_FROM                                                                             \
    " FROM settings s JOIN models m ON m.id = s.value::bigint WHERE s.key = 'embed.model_id'"

/* Column helpers: a new string (rag_free); an int64 (0 for NULL). */
char *clu_col_str(const PGresult *r, int row, int col);
int64_t clu_col_i64(const PGresult *r, int row, int col);

#endif
