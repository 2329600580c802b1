/* store/store_int.h: private layout of the store module. */
#ifndef RAG_STORE_STORE_INT_H
#define RAG_STORE_STORE_INT_H

#include "store/store.h"

#include <sqlite3.h>

struct store_vindex; /* vector indexes in memory (vindex.c) */

struct store {
    sqlite3 *db;
    char *path;
    int in_tx;
    struct store_vindex *vindex; /* owned; NULL until vector search is used */
    int64_t lookup_steps;        /* SQLite VM steps of the last store_doc_get */
};

/* Frees the in-memory vector indexes (store_close). */
void store_vindex_free(struct store_vindex *vi);

/* Translates a SQLite failure into rag_err: the one place that does. `what`
 * says what was being done ("insert chunk"). Returns RAG_ERR_DB or
 * RAG_ERR_BUSY (database locked past the busy timeout). */
int store_sqlite_err(store *s, int rc, const char *what, rag_err *err);

/* Prepares sql; on failure fills err. */
int store_prepare(store *s, const char *sql, sqlite3_stmt **st, rag_err *err);

/* Executes SQL without results. */
int store_exec(store *s, const char *sql, rag_err *err);

/* Registers the "rag" FTS5 tokenizer on this connection (fts_tokenizer.c). */
int store_fts_register(sqlite3 *db);

/* Tokenizes with the index's tokenizer chain ("porter rag"). */
int store_fts_tokenize(sqlite3 *db, const char *text, size_t len, int query, store_term_cb cb,
                       void *ctx);

/* Migrations (schema.c): brings the database to the current version. */
int store_migrate(store *s, rag_err *err);

/* SQL condition "document d is visible to who" (administrators and NULL:
 * "1"). It names the parameter :roles; bind it with store_bind_roles, which
 * returns the bound JSON array of roles (free with rag_free after the
 * statement is finalized), or NULL when the statement has no :roles. */
const char *store_visible_sql(const rag_principal *who);
char *store_bind_roles(sqlite3_stmt *st, const rag_principal *who);

/* Column text as a new string (never NULL). */
char *store_col_str(sqlite3_stmt *st, int col);

#endif
