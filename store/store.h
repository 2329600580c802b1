/* store/store.h: the door of the store module.
 *
 * SQLite is the source of truth: documents, their chunks, the FTS5 keyword
 * index over chunk text, ACL groups, the change log, and (for later stages)
 * models and embeddings. One `store` is one connection; it is not shared
 * between threads. Every search applies the caller's visibility inside the SQL
 * query, before ranking, so k visible results come back whenever k exist. */
#ifndef RAG_STORE_STORE_H
#define RAG_STORE_STORE_H

#include "base/buf.h"
#include "base/err.h"
#include "base/principal.h"

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

typedef struct store_params {
    int busy_timeout_ms; /* wait this long for another writer (default 10000) */
    int readonly;        /* open without creating or migrating */
} store_params;

void store_default_params(store_params *p);

/* The default database path, following the XDG base directories:
 * $XDG_DATA_HOME/rag/rag.db, else ~/.local/share/rag/rag.db. Returns a new
 * string (free with rag_free). Overrides ($RAG_DB, flags, config) are the
 * programs' business. */
char *store_default_path(void);

/* Opens (creating the file and its directory when needed) and migrates the
 * schema to the current version. A database written by a newer version of the
 * program is refused. */
int store_open(const char *path, const store_params *p, store **out, rag_err *err);
void store_close(store *s);
const char *store_path(const store *s);
int store_schema_version(void);

/* Values of the database's settings table by key (the store's own
 * bookkeeping, e.g. a replica's position in the cluster's change log):
 * store_meta_get sets *value to a new string (rag_free), or NULL when the
 * key is absent; store_meta_set with NULL removes the key. */
int store_meta_get(store *s, const char *key, char **value, rag_err *err);
int store_meta_set(store *s, const char *key, const char *value, rag_err *err);

/* A random secret of n bytes (at most 64) kept in the settings table under
 * `name`, made on first use (from getrandom; two processes making it at
 * once agree on the first one written). */
int store_secret(store *s, const char *name, unsigned char *out, size_t n, rag_err *err);

/* Write transactions: BEGIN IMMEDIATE (waits for other writers up to the busy
 * timeout), COMMIT, ROLLBACK. Everything between them is atomic, also when the
 * process is killed. */
int store_begin(store *s, rag_err *err);
int store_commit(store *s, rag_err *err);
void store_rollback(store *s);

/* Bulk writing (ingest of many files): moves the copying of committed
 * pages from the write-ahead log into the database (SQLite's checkpoints,
 * which the committing connection otherwise runs itself every 1,000 pages)
 * to a thread with a connection of its own, so that they run beside the
 * writer, on another core. max_log_pages bounds the log: a commit that
 * leaves more pages in it waits for the thread to copy them, so that the
 * log starts over (STORE_BG_LOG_PAGES is a good bound; readers holding an
 * old snapshot can still keep it longer, as always in WAL mode).
 * max_log_pages 0 stops the thread (joined), copies what it left and gives
 * the checkpoints back to this connection; store_close stops it too. A
 * checkpoint that fails there is only tried again at the next commit. */
#define STORE_BG_LOG_PAGES 16384
int store_bg_checkpoint(store *s, size_t max_log_pages, rag_err *err);

/* ---- ACL groups ---------------------------------------------------------- */
/* The group whose label set is exactly `labels` (sorted, unique; may be
 * empty), created when missing. */
int store_acl_group(store *s, const rag_strv *labels, int64_t *group_id, rag_err *err);

/* ---- documents and chunks ------------------------------------------------ */
typedef struct store_doc {
    int64_t id;
    char *uri;    /* absolute path for files */
    char *ext_id; /* explicit id given at ingest, or NULL */
    char *title;
    char *mime;
    char *labels; /* comma-joined labels of its ACL group ("" = none) */
    char *metadata_json;
    char content_hash[65];
    int64_t mtime_ns, size, ingested_at, acl_group, n_chunks;
} store_doc;

void store_doc_free(store_doc *d);
/* Whether `who` may see d, a document read without the rule (as
 * store_doc_get_by_uri reads it): store/visible.c's rule, in C. */
int store_doc_visible(const rag_principal *who, const store_doc *d);

/* 1 and *out filled when found, 0 when not, negative on error. store_doc_get
 * finds only documents `who` may see (NULL: any), so that callers cannot tell
 * an invisible document from a missing one. */
int store_doc_get_by_uri(store *s, const char *uri, store_doc *out, rag_err *err);
int store_doc_get(store *s, int64_t id, const rag_principal *who, store_doc *out, rag_err *err);
/* The work of the last lookup (SQLite's virtual machine steps): a document
 * `who` may not see costs what a missing one does (see store_doc_get). */
int64_t store_doc_lookup_steps(const store *s);

typedef struct store_chunk_in {
    const char *text; /* not NUL-terminated necessarily: len bytes */
    size_t len;
    size_t n_tokens;
    size_t byte_start, byte_end;
    const char *heading_path; /* NUL-terminated */
    const float *vector;      /* embedding (dims of the model), or NULL */
    int64_t id;               /* 0: a new id; a replica gives the cluster's (cluster/) */
} store_chunk_in;

typedef struct store_doc_in {
    const char *uri;
    const char *ext_id; /* may be NULL */
    const char *title;
    const char *mime;
    const char *content_hash;
    const char *metadata_json; /* may be NULL: "{}" */
    int64_t mtime_ns, size, acl_group;
    int64_t id; /* 0: the id of the document with this uri, or a new one; a
                 * replica gives the cluster's id (a local document of the
                 * same uri under another id is deleted first) */
} store_doc_in;

/* Inserts the document, or replaces the one with the same uri together with
 * all its chunks (their ids are never reused) and their vectors. Chunks
 * with a vector store it for model_id (dims floats). Call inside a
 * transaction. */
int store_doc_replace(store *s, const store_doc_in *doc, const store_chunk_in *chunks,
                      size_t n_chunks, int64_t model_id, int dims, int64_t *id_out, rag_err *err);
/* Content unchanged: record a new mtime and, when it differs, move the
 * document to another ACL group. */
int store_doc_touch(store *s, int64_t id, int64_t mtime_ns, int64_t acl_group, rag_err *err);
/* The distinct ACL groups (ascending) of the given documents; free *groups
 * with rag_free. */
int store_doc_groups(store *s, const int64_t *doc_ids, size_t n, int64_t **groups, size_t *n_groups,
                     rag_err *err);
int store_doc_delete(store *s, int64_t id, rag_err *err);

/* Calls cb for each document visible to `who` (NULL: all), ordered by uri;
 * a non-zero return from cb stops the walk and is returned. The store_doc is
 * borrowed for the duration of the call. */
typedef int (*store_doc_cb)(void *ctx, const store_doc *d);
int store_doc_each(store *s, const rag_principal *who, store_doc_cb cb, void *ctx, rag_err *err);
/* Calls cb for each document whose uri starts with `prefix` (not empty),
 * ordered by uri, whoever may see it: the members of a container
 * ("a.zip!/"). A range over the uri index. */
int store_doc_each_prefix(store *s, const char *prefix, store_doc_cb cb, void *ctx, rag_err *err);

typedef struct store_chunk {
    int64_t id, document_id;
    int ordinal;
    const char *text, *heading_path; /* borrowed for the duration of the callback */
    int64_t n_tokens, byte_start, byte_end;
} store_chunk;
typedef int (*store_chunk_cb)(void *ctx, const store_chunk *c);
int store_chunk_each(store *s, int64_t document_id, store_chunk_cb cb, void *ctx, rag_err *err);

/* ---- embedding models and vectors ------------------------------------------ */
typedef struct store_model {
    int64_t id;
    char name[128];
    char file_sha256[65];
    int dims;
    char pooling[16];
    int normalized;
    char query_prefix[256], doc_prefix[256];
} store_model;

/* The row of this identity (sha256, pooling, prefixes), created when
 * missing; sets m->id. */
int store_model_ensure(store *s, store_model *m, rag_err *err);
/* The model whose vectors the database uses (settings embed.model_id):
 * 1 and *out, or 0 when none is set. */
int store_model_active(store *s, store_model *out, rag_err *err);
int store_model_set_active(store *s, int64_t model_id, rag_err *err);
/* A re-embedding in progress towards model_id (0: none). */
int store_model_target(store *s, int64_t *model_id, rag_err *err);
int store_model_set_target(store *s, int64_t model_id, rag_err *err);

/* Chunks without a vector of model_id, by id, after after_id: up to limit,
 * via cb (text borrowed). */
int store_chunks_without_vector(store *s, int64_t model_id, int64_t after_id, size_t limit,
                                store_chunk_cb cb, void *ctx, rag_err *err);
/* Counts: all chunks, and those with a vector of model_id. */
int store_vector_counts(store *s, int64_t model_id, int64_t *n_chunks, int64_t *n_with,
                        rag_err *err);
int store_vector_put(store *s, int64_t chunk_id, int64_t model_id, const float *v, int dims,
                     rag_err *err);
/* Deletes the vectors of every model other than keep_id (and those models). */
int store_vectors_drop_others(store *s, int64_t keep_id, rag_err *err);
/* The vector of chunk_id for model_id into v (dims floats): 1, or 0 when none. */
int store_vector_get(store *s, int64_t chunk_id, int64_t model_id, float *v, int dims,
                     rag_err *err);

/* ---- keyword search -------------------------------------------------------- */
typedef struct store_search_params {
    size_t k;            /* results wanted */
    int per_document;    /* 1: only the best chunk of each document */
    int want_snippet;    /* fill store_hit.snippet */
    int want_text;       /* fill store_hit.text */
    const char *hl_open; /* highlight markers around matched terms in snippets */
    const char *hl_close;
    int exhaustive; /* 1: score every matching row (no bound on common words;
                     * tests and benchmarks compare the two) */
} store_search_params;

void store_search_default_params(store_search_params *p);

typedef struct store_hit {
    int64_t chunk_id, document_id;
    int ordinal;
    double score; /* BM25, higher is better */
    char *uri, *ext_id, *title, *heading_path;
    char *snippet; /* when asked */
    char *text;    /* when asked */
    int64_t byte_start, byte_end;
    int64_t acl_group; /* keyword hits: the group whose index found it */
} store_hit;

/* Where a keyword search spent its time (--explain, bench/). */
typedef struct store_kw_profile {
    double stats_ms;   /* BM25 statistics over the visible groups */
    double rank_ms;    /* scoring and ordering in FTS5, per group, merged */
    double fetch_ms;   /* the hits' chunk and document fields */
    double snippet_ms; /* highlighted snippets */
    int bounded;       /* 1: the common words were scored only where rarer ones match */
    int passes;        /* ranking passes (a pass that ends too early is redone) */
} store_kw_profile;

typedef struct store_hits {
    store_hit *v;
    size_t n, cap;
    store_kw_profile prof; /* keyword search only */
} store_hits;

void store_hits_free(store_hits *h);

/* BM25 over the keyword index. `query` is user text: it is always treated as
 * words, never as FTS5 syntax. Only the keyword indexes of the ACL groups
 * `who` may see are read (one per group, store/fts_groups.c), and BM25's
 * statistics are theirs, summed: no work and no score depends on chunks
 * `who` cannot see. A query without any word gives zero hits (not an
 * error). */
int store_search_keyword(store *s, const char *query, const rag_principal *who,
                         const store_search_params *p, store_hits *out, rag_err *err);
/* The highlighted snippets of keyword hits hits[0..n) (found by
 * store_search_keyword for `query`, want_snippet 0) into their ->snippet,
 * with p's markers: callers that keep a few of many hits ask for those
 * only, all at once (one snapshot). Hits of no group are left alone. */
int store_search_snippets(store *s, const char *query, const store_search_params *p,
                          store_hit *const *hits, size_t n, rag_err *err);

/* ---- vector search (store/vindex*.c; FAISS only in store/vindex_faiss.c) - */
/* The vectors of the database's embedding model are indexed with FAISS, one
 * index per ACL group, kept in files beside the database (DB.vectors/).
 * SQLite's embeddings table is the truth: the indexes are a cache that
 * records the last change-log sequence it holds, catches up by replaying
 * the log, and is rebuilt from SQLite when missing, corrupt, built for
 * another model, or older than what the log still holds. */
typedef struct store_vindex_params {
    size_t large_group;        /* groups with more vectors use large_factory (default 50000) */
    const char *large_factory; /* FAISS factory string for them (default "HNSW32,Flat") */
    int ef_search;             /* HNSW search depth (default 64) */
} store_vindex_params;

void store_vindex_default_params(store_vindex_params *p);
/* Sets the parameters used from the next (re)build on. */
void store_vindex_configure(store *s, const store_vindex_params *p);
/* Whether `factory` (a FAISS factory string for large groups) builds an
 * index for the database's embedding model; 0 when there is no model yet. */
int store_vindex_check_factory(store *s, const char *factory, rag_err *err);

typedef void (*store_progress_fn)(void *ctx, size_t done, size_t total);

/* Makes s use the in-memory indexes of `from` (another connection to the
 * same database), so that a pool of connections holds them once. Searches
 * on the connections run concurrently; a sync takes them for itself. Shared
 * indexes are not used inside a write transaction (RAG_ERR_INVALID). The
 * indexes live until the last connection using them is closed. */
void store_vindex_share(store *s, store *from);

/* Brings the in-memory indexes up to date with SQLite (loading the files,
 * replaying the change log, rebuilding what cannot be trusted). With
 * persist, the files are written back (atomically, under a lock shared with
 * other processes); readers may pass 0. Returns 0 when there is no
 * embedding model (nothing to index). */
int store_vindex_sync(store *s, int persist, store_progress_fn progress, void *ctx, rag_err *err);
/* Background mode (a daemon): searches on the indexes s shares no longer
 * sync; they search every group's index as it stands (a hit is returned
 * only if the search's own snapshot of SQLite still shows it to the
 * caller), and store_vindex_catch_up, called by the owner of the indexes
 * after its writes and periodically for other processes', brings them up
 * to date. Indexes of no or another model are still loaded by a search. */
void store_vindex_set_background(store *s, int on);
/* Replays the change log into the shared in-memory indexes while searches
 * go on: SQLite is read holding no lock that a search takes, and each group
 * is changed under its own lock for a short step, so a search waits at most
 * for a step of a group it searches, never for other groups' changes.
 * What cannot be replayed (another model, a compacted log) is rebuilt
 * aside and swapped in. Never writes files. Not inside a transaction. */
int store_vindex_catch_up(store *s, rag_err *err);
/* Rebuilds every index from SQLite and writes the files. */
int store_vindex_rebuild(store *s, store_progress_fn progress, void *ctx, rag_err *err);
/* Compares the index files with SQLite (vectors per group, ids, sequence,
 * model); problems are appended; returns 0 when the check ran. */
int store_vindex_check(store *s, rag_strv *problems, rag_err *err);

/* The k chunks nearest to q (dims floats, normalised like the stored
 * vectors; score = inner product) among those `who` may see: only the
 * indexes of visible groups are searched, their results merged by score.
 * Syncs first (without persisting) when the log moved, unless in the
 * background mode (store_vindex_set_background). Hits carry the same
 * fields as keyword hits (snippet: the start of the chunk; text when asked). */
int store_search_vector(store *s, const float *q, int dims, const rag_principal *who,
                        const store_search_params *p, store_hits *out, rag_err *err);

/* ---- API keys (store/keys.c) ------------------------------------------------ */
/* Keys of the daemon. Only a hash of each key is stored (rag/keys.c makes
 * and checks keys). */
enum { STORE_PERM_QUERY = 1, STORE_PERM_INGEST = 2, STORE_PERM_ADMIN = 4 };

typedef struct store_key {
    int64_t id;
    char *name;         /* unique */
    char *prefix;       /* the key's first characters, shown in listings */
    char *hash;         /* SHA-256 of the key, lowercase hex */
    char *roles;        /* sorted, comma-joined labels ("" = none) */
    int perms;          /* STORE_PERM_* bits */
    int64_t created_at; /* seconds since the epoch (0 on add: now) */
} store_key;

/* Adds a key; a name in use is RAG_ERR_INVALID. */
int store_key_add(store *s, const store_key *k, rag_err *err);
/* Every key, by name (free with store_keys_free). */
int store_key_list(store *s, store_key **out, size_t *n, rag_err *err);
/* 1 when a key of that name was removed, 0 when there was none. */
int store_key_delete(store *s, const char *name, rag_err *err);
void store_keys_free(store_key *v, size_t n);
/* Removes every key (a replica replaces its keys with the cluster's). */
int store_key_clear(store *s, rag_err *err);

/* ---- answers and their ratings (store/answers.c) ------------------------------ */
/* What ragd answered (the question, the answer, how it was made, the
 * chunks cited) and the rating the key that got it gave it. An answer is
 * known by its id together with its key: ids are unique per key only. */
typedef struct store_answer_cite {
    int n; /* its [n] in the answer */
    int64_t chunk_id, document_id;
    const char *uri;
} store_answer_cite;

typedef struct store_answer {
    const char *id;       /* the response's id ("chatcmpl-...") */
    const char *key_name; /* the API key it was given to */
    int64_t created_at;   /* seconds since the epoch */
    const char *question;
    const char *rewrite; /* the retrieval query when it was not the question, or NULL */
    const char *answer;
    const char *settings_json; /* how it was made: a JSON object */
    const store_answer_cite *cites;
    size_t n_cites;
    /* the rating (read back; store_answer_record ignores them) */
    const char *rating;  /* "up", "down", or NULL: not rated */
    const char *comment; /* or NULL */
    int64_t rated_at;    /* 0: not rated */
} store_answer;

/* Records an answer with its citations; the same key's answer of the same
 * id is replaced (with its rating). Call inside a transaction. */
int store_answer_record(store *s, const store_answer *a, rag_err *err);
/* Rates key_name's answer `id` ("up" or "down", comment may be NULL),
 * replacing an earlier rating (*replaced 1). Returns 1, or 0 when that key
 * has no answer of that id (another key's answer is not found either, by
 * the same lookup). Runs a transaction of its own. */
int store_answer_rate(store *s, const char *key_name, const char *id, const char *rating,
                      const char *comment, int64_t now, int *replaced, rag_err *err);
/* Deletes the answers made before `before` (seconds since the epoch) and
 * the oldest beyond the newest max_keep (0: no bound), with their ratings;
 * *n_deleted (may be NULL) counts them. */
int store_answers_prune(store *s, int64_t before, int64_t max_keep, int64_t *n_deleted,
                        rag_err *err);

typedef struct store_answer_query {
    int rated_only;       /* only answers with a rating */
    const char *rating;   /* only those rated so ("up", "down"), or NULL */
    const char *key_name; /* only this key's, or NULL */
    size_t limit;         /* at most this many (0: all) */
    int newest_first;     /* by rating time (rated_only) or creation time; else oldest first */
} store_answer_query;

/* Calls cb for each answer q selects (in one snapshot); the answer is
 * borrowed for the duration of the call; a non-zero return stops the walk
 * and is returned. */
typedef int (*store_answer_cb)(void *ctx, const store_answer *a);
int store_answer_each(store *s, const store_answer_query *q, store_answer_cb cb, void *ctx,
                      rag_err *err);

/* ---- index terms ------------------------------------------------------------ */
/* Splits text the way the keyword index does (case folded, diacritics removed,
 * Porter-stemmed English, CJK as character bigrams) and calls cb per term with
 * its byte range in text. `query` selects query-side tokenization. */
typedef int (*store_term_cb)(void *ctx, const char *term, size_t term_len, size_t start,
                             size_t end);
int store_terms(store *s, const char *text, size_t len, int query, store_term_cb cb, void *ctx,
                rag_err *err);
/* Number of chunks containing `term` (an index term from store_terms) and the
 * total number of chunks, in the keyword indexes of the given ACL groups
 * (those of the documents a caller may see: store_doc_groups); for IDF
 * weights. */
int store_term_stats(store *s, const char *term, size_t term_len, const int64_t *groups,
                     size_t n_groups, int64_t *n_chunks_with, int64_t *n_chunks_total,
                     rag_err *err);

/* ---- statistics and checks ------------------------------------------------ */
typedef struct store_group_stats {
    char *labels;
    int64_t n_docs, n_chunks;
} store_group_stats;

typedef struct store_stats {
    int64_t n_docs, n_chunks, n_tokens, db_bytes, wal_bytes, n_changes;
    store_group_stats *groups;
    size_t n_groups;
} store_stats;

int store_stats_get(store *s, store_stats *out, rag_err *err);
void store_stats_free(store_stats *st);

/* Runs SQLite's integrity check, the FTS5 index check and the project's own
 * invariants (every document has chunks, every chunk is logged, ...). Problems
 * are appended to `problems`; returns 0 when the check ran (even if it found
 * problems). */
int store_check(store *s, rag_strv *problems, rag_err *err);

/* Rebuilds the keyword index from the chunks table (repairs a damaged FTS5
 * index; the chunks themselves are the source of truth). */
int store_fts_rebuild(store *s, rag_err *err);

#endif
