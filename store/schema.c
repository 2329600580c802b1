/* store/schema.c: the schema and its migrations.
 *
 * PRAGMA user_version holds the number of migrations applied. Each migration
 * runs in its own transaction together with the version bump, so a crash
 * leaves the database at a whole version. Migrations are only ever appended;
 * a shipped one is never edited.
 *
 * Tables (see ../docs in ARCHITECTURE.md, "Data model"):
 *   acl_groups / acl_group_labels  one row per distinct label set; the label
 *                                  index answers "which groups may roles R
 *                                  see" inside every search
 *   documents                      one per source (file path or URL);
 *                                  ext_id: an explicit id, not unique
 *                                  (migration 5; ext_id_unique_v1, its old
 *                                  column, stays empty)
 *   chunks                         text pieces with heading path and offsets;
 *                                  ids never reused (AUTOINCREMENT) because
 *                                  vector indexes use them as ids
 *   chunks_in_G / chunks_fts_G     the keyword index, one per ACL group G
 *                                  (from migration 6; store/fts_groups.c):
 *                                  a view of the group's chunks and FTS5 over
 *                                  it (text, heading_path), external content,
 *                                  tokenizer "porter rag" (fts_tokenizer.c),
 *                                  created with the group and kept in step by
 *                                  the write path (docs.c). Migrations 1-4
 *                                  had one chunks_fts for all groups, kept by
 *                                  triggers; migration 7 rebuilt them all
 *                                  (ICU words for Thai, Lao, Khmer, Burmese)
 *   models / embeddings            vectors per chunk and embedding model
 *   settings                       key/value: embed.model_id (the model whose
 *                                  vectors the database uses), embed.target_id
 *                                  (a re-embedding in progress)
 *   api_keys                       the daemon's keys: name, SHA-256 of the
 *                                  key, roles, permissions
 *   changes                        log of chunk additions, deletions and ACL
 *                                  moves, and of vectors stored (as 'add'),
 *                                  written by triggers; vector indexes replay
 *                                  it to catch up
 *   answers / answer_chunks        ragd's answers (migration 8; answers.c):
 *                                  question, answer, settings, the chunks
 *                                  cited, and the rating of the key that got
 *                                  it; kept for a while (feedback.keep_days) */
#include "store/store_int.h"

#include <stdio.h>

static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE acl_groups(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  labels TEXT NOT NULL UNIQUE        -- sorted, comma-joined; '' = no label\n"
    ");\n"
    "CREATE TABLE acl_group_labels(\n"
    "  label TEXT NOT NULL,\n"
    "  group_id INTEGER NOT NULL REFERENCES acl_groups(id) ON DELETE CASCADE,\n"
    "  PRIMARY KEY(label, group_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE documents(\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  uri TEXT NOT NULL UNIQUE,\n"
    "  ext_id TEXT UNIQUE,\n"
    "  title TEXT NOT NULL DEFAULT '',\n"
    "  content_hash TEXT NOT NULL,         -- SHA-256 of the source bytes\n"
    "  mtime INTEGER NOT NULL,             -- nanoseconds since the epoch\n"
    "  size INTEGER NOT NULL,\n"
    "  mime TEXT NOT NULL,\n"
    "  acl_group INTEGER NOT NULL REFERENCES acl_groups(id),\n"
    "  metadata_json TEXT NOT NULL DEFAULT '{}',\n"
    "  ingested_at INTEGER NOT NULL        -- seconds since the epoch\n"
    ");\n"
    "CREATE INDEX documents_acl_group ON documents(acl_group);\n"
    "CREATE TABLE chunks(\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,\n"
    "  ordinal INTEGER NOT NULL,\n"
    "  text TEXT NOT NULL,\n"
    "  n_tokens INTEGER NOT NULL,\n"
    "  byte_start INTEGER NOT NULL,        -- in the document's extracted text\n"
    "  byte_end INTEGER NOT NULL,\n"
    "  heading_path TEXT NOT NULL DEFAULT '',\n"
    "  UNIQUE(document_id, ordinal)\n"
    ");\n"
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading_path,\n"
    "  content='chunks', content_rowid='id', tokenize='porter rag');\n"
    "CREATE TABLE changes(\n"
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  chunk_id INTEGER NOT NULL,\n"
    "  op TEXT NOT NULL CHECK (op IN ('add', 'del', 'acl'))\n"
    ");\n"
    "CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN\n"
    "  INSERT INTO chunks_fts(rowid, text, heading_path) VALUES (new.id, new.text, "
    "new.heading_path);\n"
    "  INSERT INTO changes(chunk_id, op) VALUES (new.id, 'add');\n"
    "END;\n"
    "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN\n"
    "  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path)\n"
    "    VALUES ('delete', old.id, old.text, old.heading_path);\n"
    "  INSERT INTO changes(chunk_id, op) VALUES (old.id, 'del');\n"
    "END;\n"
    "CREATE TRIGGER chunks_au AFTER UPDATE OF text, heading_path ON chunks BEGIN\n"
    "  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path)\n"
    "    VALUES ('delete', old.id, old.text, old.heading_path);\n"
    "  INSERT INTO chunks_fts(rowid, text, heading_path) VALUES (new.id, new.text, "
    "new.heading_path);\n"
    "  INSERT INTO changes(chunk_id, op) VALUES (new.id, 'add');\n"
    "END;\n"
    "CREATE TRIGGER documents_acl AFTER UPDATE OF acl_group ON documents\n"
    "  WHEN old.acl_group IS NOT new.acl_group BEGIN\n"
    "  INSERT INTO changes(chunk_id, op) SELECT id, 'acl' FROM chunks WHERE document_id = new.id;\n"
    "END;\n"
    "CREATE TABLE models(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  file_sha256 TEXT NOT NULL,\n"
    "  dims INTEGER NOT NULL,\n"
    "  pooling TEXT NOT NULL,\n"
    "  normalized INTEGER NOT NULL,\n"
    "  query_prefix TEXT NOT NULL DEFAULT '',\n"
    "  doc_prefix TEXT NOT NULL DEFAULT '',\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE embeddings(\n"
    "  chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,\n"
    "  model_id INTEGER NOT NULL REFERENCES models(id),\n"
    "  vector BLOB NOT NULL,               -- dims float32, little-endian\n"
    "  PRIMARY KEY(chunk_id, model_id)\n"
    ") WITHOUT ROWID;\n",
    /* 2: which embedding model the vectors come from; model identities unique */
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE UNIQUE INDEX models_identity ON models(file_sha256, pooling, query_prefix, "
    "doc_prefix);\n"
    "CREATE INDEX embeddings_model ON embeddings(model_id);\n",
    /* 3: a vector stored or replaced is a change the vector indexes replay
     * (an 'add' of its chunk: re-read with its current vector and group) */
    "CREATE TRIGGER embeddings_ai AFTER INSERT ON embeddings BEGIN\n"
    "  INSERT INTO changes(chunk_id, op) VALUES (new.chunk_id, 'add');\n"
    "END;\n"
    "CREATE TRIGGER embeddings_au AFTER UPDATE OF vector ON embeddings BEGIN\n"
    "  INSERT INTO changes(chunk_id, op) VALUES (new.chunk_id, 'add');\n"
    "END;\n",
    /* 4: API keys of the daemon: only a hash of each key is kept */
    "CREATE TABLE api_keys(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  prefix TEXT NOT NULL,               -- the key's first characters, to recognise it\n"
    "  hash TEXT NOT NULL UNIQUE,          -- SHA-256 of the whole key, hex\n"
    "  roles TEXT NOT NULL DEFAULT '',     -- sorted, comma-joined labels\n"
    "  perms INTEGER NOT NULL,             -- STORE_PERM_* bits\n"
    "  created_at INTEGER NOT NULL         -- seconds since the epoch\n"
    ");\n",
    /* 5: explicit document ids are no longer unique across the database:
     * ragd scopes an upload's id to its label set, so that one role's ids
     * never collide with (nor reveal) another's. SQLite cannot drop a
     * column's UNIQUE: the old column is renamed and left empty, the ids
     * move to a new column with a plain index. */
    "ALTER TABLE documents RENAME COLUMN ext_id TO ext_id_unique_v1;\n"
    "ALTER TABLE documents ADD COLUMN ext_id TEXT;\n"
    "UPDATE documents SET ext_id = ext_id_unique_v1, ext_id_unique_v1 = NULL;\n"
    "CREATE INDEX documents_ext_id ON documents(ext_id);\n",
    /* 6: the keyword index is partitioned by ACL group, so that a search
     * reads only postings its principal may see. The shared index and the
     * triggers that fed it go; store_fts_groups_sync (run by store_migrate
     * in this migration's transaction) builds chunks_fts_G for every group
     * from the chunks. The change log triggers stay as they were. */
    "DROP TRIGGER chunks_ai;\n"
    "DROP TRIGGER chunks_ad;\n"
    "DROP TRIGGER chunks_au;\n"
    "DROP TABLE chunks_fts;\n"
    "CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN\n"
    "  INSERT INTO changes(chunk_id, op) VALUES (new.id, 'add');\n"
    "END;\n"
    "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN\n"
    "  INSERT INTO changes(chunk_id, op) VALUES (old.id, 'del');\n"
    "END;\n"
    "CREATE TRIGGER chunks_au AFTER UPDATE OF text, heading_path ON chunks BEGIN\n"
    "  INSERT INTO changes(chunk_id, op) VALUES (new.id, 'add');\n"
    "END;\n",
    /* 7: the tokenizer splits Thai, Lao, Khmer and Burmese runs into words
     * with ICU (fts_tokenizer.c), where it made one token of each run: every
     * group's keyword index is rebuilt from the chunks (store_migrate, at
     * FTS_RETOKENIZED), so that old text is found as new text is. Replicas
     * of a cluster are store databases and migrate the same way. */
    "-- keyword indexes rebuilt by store_migrate\n",
    /* 8: ragd's answers and the ratings their keys give them (feedback,
     * store/answers.c). An answer's id is the response's, which a client
     * may choose (X-Request-Id): unique per key only, so that one key's
     * ids never meet another's. The chunks cited are copied (id, document,
     * uri) rather than referenced: the record outlives them. */
    "CREATE TABLE answers(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  answer_id TEXT NOT NULL,            -- the response's id (chatcmpl-...)\n"
    "  key_name TEXT NOT NULL,             -- the API key it was given to\n"
    "  created_at INTEGER NOT NULL,        -- seconds since the epoch\n"
    "  question TEXT NOT NULL,\n"
    "  rewrite TEXT,                       -- the retrieval query, when not the question\n"
    "  answer TEXT NOT NULL,\n"
    "  settings_json TEXT NOT NULL,        -- how it was made (mode, retrieval, k, model, ...)\n"
    "  rating TEXT CHECK (rating IN ('up', 'down')), -- NULL: not rated\n"
    "  comment TEXT,\n"
    "  rated_at INTEGER,                   -- seconds since the epoch\n"
    "  UNIQUE(key_name, answer_id)\n"
    ");\n"
    "CREATE INDEX answers_created ON answers(created_at);\n"
    "CREATE INDEX answers_rated ON answers(rated_at) WHERE rating IS NOT NULL;\n"
    "CREATE TABLE answer_chunks(\n"
    "  answer INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,\n"
    "  pos INTEGER NOT NULL,               -- order among the answer's citations\n"
    "  n INTEGER NOT NULL,                 -- its [n] in the answer\n"
    "  chunk_id INTEGER NOT NULL,          -- chunks(id) when answered\n"
    "  document_id INTEGER NOT NULL,\n"
    "  uri TEXT NOT NULL,\n"
    "  PRIMARY KEY(answer, pos)\n"
    ") WITHOUT ROWID;\n",
};

/* The migration after which every keyword index is rebuilt: the
 * tokenizer's output changed for some text. */
#define FTS_RETOKENIZED 7

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int store_schema_version(void)
{
    return N_MIGRATIONS;
}

static int user_version(store *s, int *v, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "PRAGMA user_version", &st, err);
    if (rc) return rc;
    rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : store_sqlite_err(s, rc, "read the schema version", err);
}

int store_migrate(store *s, rag_err *err)
{
    int v, rc = user_version(s, &v, err);
    if (rc) return rc;
    if (v > N_MIGRATIONS)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "%s: schema version %d is newer than this program knows (%d); "
                           "upgrade rag",
                           s->path, v, N_MIGRATIONS);
    while (v < N_MIGRATIONS) {
        rc = store_begin(s, err);
        if (rc) return rc;
        /* Re-read inside the write lock: another process may have migrated. */
        rc = user_version(s, &v, err);
        if (rc || v >= N_MIGRATIONS) {
            if (rc)
                store_rollback(s);
            else
                rc = store_commit(s, err);
            return rc;
        }
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d", v + 1);
        rc = store_exec(s, migrations[v], err);
        /* per-group keyword indexes follow the groups (from migration 6 on;
         * idempotent, so running it after the earlier ones is harmless) */
        if (!rc) rc = store_fts_groups_sync(s, err);
        if (!rc && v + 1 == FTS_RETOKENIZED) rc = store_fts_rebuild_all(s, err);
        if (!rc) rc = store_exec(s, bump, err);
        if (rc) {
            store_rollback(s);
            return rc;
        }
        rc = store_commit(s, err);
        if (rc) return rc;
        v++;
    }
    return 0;
}
