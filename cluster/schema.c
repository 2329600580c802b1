/* cluster/schema.c: the cluster's tables in PostgreSQL, and their migrations.
 *
 * rag_schema holds the number of migrations applied. clu_migrate applies
 * the missing ones in one transaction under an advisory lock, so that
 * processes starting together migrate once; a schema newer than this
 * program is refused. Migrations are only ever appended.
 *
 *   documents  one row per source (uri unique); labels: its ACL labels,
 *              sorted and comma-joined ('' = none)
 *   chunks     the chunks of each document with their vector (float32,
 *              little-endian, of the model settings 'embed.model_id')
 *   models     embedding model identities, as store/ records them
 *   settings   'cluster.id' and 'api.id_key' (made here: the key of the ids
 *              the API shows, the same on every node), 'embed.model_id'
 *   uploads    the bytes of documents uploaded through ragd
 *   api_keys   the daemon's keys: a SHA-256 of each, never the key
 *   changes    the change log replicas follow: ('doc', id) when document
 *              id was added, changed or removed; ('keys', 0) when a key
 *              was added or removed. seq is handed out in commit order
 *              (clu_log_lock)
 *   jobs       the ingest queue; workers: who processes it, and how fast */
#include "cluster/cluster_int.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>

static const char *const migrations[] = {
    /* 1: the first cluster schema */
    "CREATE TABLE settings(key text PRIMARY KEY, value text NOT NULL);\n"
    "INSERT INTO settings VALUES ('cluster.id', gen_random_uuid()::text);\n"
    "INSERT INTO settings VALUES ('api.id_key', md5(gen_random_uuid()::text));\n"
    "CREATE TABLE documents(\n"
    "  id bigserial PRIMARY KEY,\n"
    "  uri text NOT NULL UNIQUE,\n"
    "  ext_id text,\n"
    "  title text NOT NULL DEFAULT '',\n"
    "  content_hash text NOT NULL,\n"
    "  mtime bigint NOT NULL,\n"
    "  size bigint NOT NULL,\n"
    "  mime text NOT NULL,\n"
    "  labels text NOT NULL DEFAULT '',\n"
    "  metadata_json text NOT NULL DEFAULT '{}',\n"
    "  ingested_at bigint NOT NULL\n"
    ");\n"
    "CREATE INDEX documents_ext_id ON documents(ext_id);\n"
    "CREATE TABLE models(\n"
    "  id bigserial PRIMARY KEY,\n"
    "  name text NOT NULL,\n"
    "  file_sha256 text NOT NULL,\n"
    "  dims integer NOT NULL,\n"
    "  pooling text NOT NULL,\n"
    "  normalized integer NOT NULL,\n"
    "  query_prefix text NOT NULL DEFAULT '',\n"
    "  doc_prefix text NOT NULL DEFAULT '',\n"
    "  UNIQUE(file_sha256, pooling, query_prefix, doc_prefix)\n"
    ");\n"
    "CREATE TABLE chunks(\n"
    "  id bigserial PRIMARY KEY,\n"
    "  document_id bigint NOT NULL REFERENCES documents(id) ON DELETE CASCADE,\n"
    "  ordinal integer NOT NULL,\n"
    "  text text NOT NULL,\n"
    "  n_tokens integer NOT NULL,\n"
    "  byte_start bigint NOT NULL,\n"
    "  byte_end bigint NOT NULL,\n"
    "  heading_path text NOT NULL DEFAULT '',\n"
    "  vector bytea,\n"
    "  UNIQUE(document_id, ordinal)\n"
    ");\n"
    "CREATE TABLE uploads(\n"
    "  document_id bigint PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,\n"
    "  bytes bytea NOT NULL\n"
    ");\n"
    "CREATE TABLE api_keys(\n"
    "  id bigserial PRIMARY KEY,\n"
    "  name text NOT NULL UNIQUE,\n"
    "  prefix text NOT NULL,\n"
    "  hash text NOT NULL UNIQUE,\n"
    "  roles text NOT NULL DEFAULT '',\n"
    "  perms integer NOT NULL,\n"
    "  created_at bigint NOT NULL\n"
    ");\n"
    "CREATE TABLE changes(\n"
    "  seq bigserial PRIMARY KEY,\n"
    "  kind text NOT NULL CHECK (kind IN ('doc', 'keys')),\n"
    "  ref bigint NOT NULL DEFAULT 0,\n"
    "  at timestamptz NOT NULL DEFAULT now()\n"
    ");\n"
    "CREATE TABLE jobs(\n"
    "  id bigserial PRIMARY KEY,\n"
    "  kind text NOT NULL CHECK (kind IN ('path', 'url', 'bytes')),\n"
    "  source text NOT NULL,\n"
    "  labels text,\n"
    "  default_labels text NOT NULL DEFAULT '',\n"
    "  ext_id text,\n"
    "  content_type text,\n"
    "  bytes bytea,\n"
    "  state text NOT NULL DEFAULT 'queued'\n"
    "    CHECK (state IN ('queued', 'running', 'done', 'failed')),\n"
    "  attempts integer NOT NULL DEFAULT 0,\n"
    "  max_attempts integer NOT NULL DEFAULT 3,\n"
    "  worker text,\n"
    "  lease_token bigint,\n"
    "  lease_until timestamptz,\n"
    "  outcome text,\n"
    "  reason text,\n"
    "  document_id bigint,\n"
    "  created_at timestamptz NOT NULL DEFAULT now(),\n"
    "  finished_at timestamptz\n"
    ");\n"
    "CREATE INDEX jobs_open ON jobs(id) WHERE state IN ('queued', 'running');\n"
    "CREATE INDEX jobs_finished ON jobs(finished_at) WHERE state IN ('done', 'failed');\n"
    "CREATE TABLE workers(\n"
    "  name text PRIMARY KEY,\n"
    "  seen_at timestamptz NOT NULL DEFAULT now(),\n"
    "  jobs_done bigint NOT NULL DEFAULT 0\n"
    ");\n",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int clu_schema_version(void)
{
    return N_MIGRATIONS;
}

static int read_id(clu *c, rag_err *err)
{
    PGresult *r = clu_query(c, "SELECT value FROM settings WHERE key = 'cluster.id'", 0, NULL, NULL,
                            NULL, err);
    if (!r) return err->code;
    snprintf(c->id, sizeof c->id, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return 0;
}

int clu_migrate(clu *c, rag_err *err)
{
    int rc = clu_begin(c, NULL, err);
    if (rc) return rc;
    /* one process migrates; the others wait here, then find it done */
    rc = clu_run(c, "SELECT pg_advisory_xact_lock(7261670000)", 0, NULL, err);
    if (!rc)
        rc = clu_run(c, "CREATE TABLE IF NOT EXISTS rag_schema(version integer NOT NULL)", 0, NULL,
                     err);
    PGresult *r = rc ? NULL
                     : clu_query(c, "SELECT coalesce(max(version), 0) FROM rag_schema", 0, NULL,
                                 NULL, NULL, err);
    if (!r) {
        clu_rollback(c);
        return err->code;
    }
    int v = (int)clu_col_i64(r, 0, 0);
    PQclear(r);
    if (v > N_MIGRATIONS) {
        clu_rollback(c);
        return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                           "%s: schema version %d is newer than this program knows (%d); "
                           "upgrade rag on this machine",
                           c->name, v, N_MIGRATIONS);
    }
    int applied = v < N_MIGRATIONS;
    for (; !rc && v < N_MIGRATIONS; v++) {
        /* several statements in one string: the simple protocol */
        PGresult *m = PQexec(c->conn, migrations[v]);
        if (PQresultStatus(m) != PGRES_COMMAND_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(m));
            msg[strcspn(msg, "\n")] = 0;
            rc = rag_err_set(err, RAG_ERR_DB, "%s: migration %d: %s", c->name, v + 1, msg);
        }
        PQclear(m);
    }
    char ver[16];
    snprintf(ver, sizeof ver, "%d", N_MIGRATIONS);
    const char *vals[] = {ver};
    if (!rc && applied) rc = clu_run(c, "DELETE FROM rag_schema", 0, NULL, err);
    if (!rc && applied)
        rc = clu_run(c, "INSERT INTO rag_schema(version) VALUES ($1)", 1, vals, err);
    if (!rc) rc = clu_commit(c, err);
    if (rc) {
        clu_rollback(c);
        return rc;
    }
    return read_id(c, err);
}
