/* store/store_int.h: private layout of the store module. */
#ifndef RAG_STORE_STORE_INT_H
#define RAG_STORE_STORE_INT_H

#include "store/store.h"

#include <sqlite3.h>

struct store_vindex; /* vector indexes in memory (vindex.c) */
struct store_ckpt;   /* the checkpointing thread (store.c), or NULL */

#define STORE_STMT_CACHE 32 /* prepared statements kept per connection */

struct store {
    sqlite3 *db;
    char *path;
    int in_tx;
    struct store_vindex *vindex; /* owned; NULL until vector search is used */
    int64_t lookup_steps;        /* SQLite VM steps of the last store_doc_get */
    struct store_stmt_cache {
        char *sql;
        sqlite3_stmt *st;
        uint64_t used;
    } cache[STORE_STMT_CACHE];
    uint64_t cache_clock;
    /* Documents whose chunks enter the keyword index at commit (see
     * store_fts_doc), in the order they were written. */
    struct store_fts_pending {
        int64_t doc, group;
    } * fts_pending;
    size_t n_fts_pending, cap_fts_pending;
    int fts_dirty; /* keyword rows written in this transaction since FTS5
                    * last saved its statistics (store_fts_flush) */
    struct store_ckpt *ckpt;
};

/* Frees the in-memory vector indexes (store_close). */
void store_vindex_free(struct store_vindex *vi);

/* Translates a SQLite failure into rag_err: the one place that does. `what`
 * says what was being done ("insert chunk"). Returns RAG_ERR_DB or
 * RAG_ERR_BUSY (database locked past the busy timeout). */
int store_sqlite_err(store *s, int rc, const char *what, rag_err *err);

/* Prepares sql; on failure fills err. */
int store_prepare(store *s, const char *sql, sqlite3_stmt **st, rag_err *err);

/* A prepared statement of sql from the connection's cache (prepared on
 * first use, the least recently used one replaced): the search path runs
 * the same few statements over and over, and preparing an FTS5 query costs
 * as much as running a rare word's. Give it back with store_cached_done
 * (reset, bindings cleared) before the same sql is asked for again; never
 * finalize it. A connection is used by one thread at a time (ragd pools
 * connections), so is its cache. */
int store_cached(store *s, const char *sql, sqlite3_stmt **st, rag_err *err);
void store_cached_done(sqlite3_stmt *st);

/* Executes SQL without results. */
int store_exec(store *s, const char *sql, rag_err *err);

/* A read transaction around several statements, when none is open: one
 * snapshot for all of them, and one lock taken and released instead of one
 * per statement (in WAL mode each costs system calls: a rare word's search
 * runs some twenty statements). Returns 1 when it began one (end it with
 * store_read_end), 0 inside a transaction, or an error. */
int store_read_begin(store *s, rag_err *err);
void store_read_end(store *s, int began);

/* Registers the "rag" FTS5 tokenizer on this connection (fts_tokenizer.c). */
int store_fts_register(sqlite3 *db);

/* Tokenizes with the index's tokenizer chain ("porter rag"). */
int store_fts_tokenize(sqlite3 *db, const char *text, size_t len, int query, store_term_cb cb,
                       void *ctx);

/* ---- keyword index, one FTS5 table per ACL group (fts_groups.c) ---------- */
/* Creates (if missing) and fills the view chunks_in_G and the FTS5 table
 * chunks_fts_G of group g. */
int store_fts_group_create(store *s, int64_t g, rag_err *err);
/* Gives every ACL group without one its keyword index (a no-op while the
 * shared index of schema versions before per-group indexes exists). */
int store_fts_groups_sync(store *s, rag_err *err);
/* The ids of the ACL groups without a keyword index. */
int store_fts_groups_missing(store *s, int64_t **out, size_t *n_out, rag_err *err);
/* The int64 first column of every row of sql, bound with :roles (who's)
 * when it has that parameter (free *out with rag_free). */
int store_collect_ids(store *s, const char *sql, const rag_principal *who, int64_t **out,
                      size_t *n_out, rag_err *err);
/* Adds (add != 0) the chunks of document `doc` to the keyword index of group
 * g, or removes them (call before the chunks are deleted). */
int store_fts_doc(store *s, int64_t doc, int64_t g, int add, rag_err *err);
/* Indexes the documents store_fts_doc left for the commit: store_commit
 * does (for_read 0), and every reader of the keyword index first (for_read
 * 1: FTS5's statistics, which it saves only at a commit or a savepoint,
 * are then saved too, when keyword rows were written since). */
int store_fts_flush(store *s, int for_read, rag_err *err);
/* Rows and tokens (all columns) in group g's keyword index. */
int store_fts_group_size(store *s, int64_t g, int64_t *n_rows, int64_t *n_tokens, rag_err *err);
/* Registers rag_bm25() and rag_fts_hits() on a connection. */
int store_fts_register_functions(fts5_api *api);
/* BM25 statistics of a query over the visible groups, summed: rows, the
 * average row length, and per phrase of the query the rows holding it and
 * its IDF (FTS5's formula). */
typedef struct store_bm25_stats {
    int64_t n_rows;
    double avgdl;
    size_t n_phrase;
    int64_t *df;
    double *idf;
} store_bm25_stats;
/* The statistics for the FTS5 query `match` of n_phrase phrases summed over
 * the given groups; n_rows stays 0 when the groups hold no rows. */
int store_fts_bm25_stats(store *s, const int64_t *groups, size_t n_groups, const char *match,
                         size_t n_phrase, store_bm25_stats *out, rag_err *err);
void store_bm25_stats_free(store_bm25_stats *st);
/* The blob rag_bm25() takes for an FTS5 expression whose n phrases are the
 * query's phrases words[0..n) (an index into st; -1: a phrase that only
 * finds rows and scores nothing). */
void store_fts_bm25_blob(const store_bm25_stats *st, const int *words, size_t n, rag_buf *out);
/* FTS5 integrity checks of every group's index; problems are appended. */
int store_fts_check(store *s, rag_strv *problems, rag_err *err);
/* Creates missing group indexes and rebuilds all from the chunks. */
int store_fts_rebuild_all(store *s, rag_err *err);

/* Migrations (schema.c): brings the database to the current version. */
int store_migrate(store *s, rag_err *err);

/* ---- visibility (visible.c: the rule, see its design note) -------------- */
/* SQL condition "document d is visible to who" (administrators and NULL:
 * "1"). It names the parameter :roles; bind it with store_bind_roles, which
 * returns the bound JSON array of roles (free with rag_free after the
 * statement is finalized), or NULL when the statement has no :roles. */
const char *store_visible_sql(const rag_principal *who);
char *store_bind_roles(sqlite3_stmt *st, const rag_principal *who);
/* The ids of the ACL groups `who` may see (all for administrators and
 * NULL), sorted, unique: the rule of store_visible_sql. */
int store_visible_groups(store *s, const rag_principal *who, int64_t **out, size_t *n_out,
                         rag_err *err);

/* Column text as a new string (never NULL). */
char *store_col_str(sqlite3_stmt *st, int col);

/* ---- hits (search.c): chunk rows with their document's fields ----------- */
/* The select list of a hit over chunks c and documents d, columns 0 to 8;
 * column 9 follows it: c.text when the caller wants the text, else NULL. */
#define STORE_HIT_COLUMNS                                                                          \
    "c.id, c.document_id, c.ordinal, c.heading_path, c.byte_start, c.byte_end, d.uri, d.ext_id, "  \
    "d.title"
/* Fills h (zeroed first) from columns 0 to 9 of such a row; the score and
 * the snippet are the caller's. */
void store_hit_from_row(sqlite3_stmt *st, int want_text, store_hit *h);

#endif
