/* rag/settings.h: every setting of `rag` and `ragd`, described once.
 *
 * One table (rag/settings.c, after Redis's static_configs[]) holds each key
 * with its type, bounds, default, the environment variable and the flag
 * that override it, one line of help, and the programs that read it. Both
 * programs resolve all their settings at start, before any work, into one
 * rag_settings: flag, then environment, then the config file, then the
 * default. Unknown keys, a key of the other program, bad values and numbers
 * out of range are refused the same way in both, naming the file and line
 * (or the variable, or the flag). After that nothing reads the config file
 * or the environment for a setting again.
 *
 * Settings whose default is worked out from something else (search.candidates,
 * rerank.top, model.ctx, model.threads, server.uploads_dir, the embedding
 * prefixes) default to 0 or unset, and their users apply the rule their
 * help line states. */
#ifndef RAG_RAG_SETTINGS_H
#define RAG_RAG_SETTINGS_H

#include "base/config.h"
#include "base/err.h"

#include <stddef.h>
#include <stdio.h>

/* The programs (a mask). */
enum { RAG_PROG_RAG = 1, RAG_PROG_RAGD = 2, RAG_PROG_BOTH = 3 };

typedef enum rag_setting_type {
    RAG_SET_STRING, /* text (a path, a URL, a name) */
    RAG_SET_CHOICE, /* one of the words in `choices` */
    RAG_SET_INT,    /* a whole number in [lo, hi] */
    RAG_SET_SIZE,   /* bytes, with K, M, G suffixes, in [lo, hi] */
    RAG_SET_REAL,   /* a number in [lo, hi] (lo excluded when lo_open) */
    RAG_SET_BOOL,   /* true/false, yes/no, on/off, 1/0 */
} rag_setting_type;

/* Where a value came from (later wins). */
typedef enum rag_setting_origin {
    RAG_FROM_DEFAULT,
    RAG_FROM_FILE,
    RAG_FROM_ENV,
    RAG_FROM_FLAG,
} rag_setting_origin;

typedef struct rag_setting_def {
    const char *key; /* "section.name", or "db" */
    rag_setting_type type;
    double lo, hi;       /* numbers and sizes */
    int lo_open;         /* REAL: lo itself is refused */
    const char *choices; /* CHOICE: "keyword vector hybrid" */
    const char *def;     /* the default, as it would be written; NULL: unset */
    const char *env;     /* the variable that overrides the file, or NULL */
    const char *flag;    /* the flag(s) that override everything, for help, or NULL */
    unsigned programs;   /* RAG_PROG_* */
    int secret;          /* never shown (keys; passwords in URLs) */
    int (*check)(const char *value, rag_err *err); /* more checks of a string, or NULL */
    size_t offset;                                 /* of the field in rag_settings */
    const char *help;                              /* one line */
} rag_setting_def;

/* The table, in the order of the example config files. */
extern const rag_setting_def rag_setting_defs[];
extern const size_t rag_n_settings;

/* Every setting's effective value. Strings are owned (NULL: unset). */
typedef struct rag_settings {
    const char *db;
    struct {
        const char *listen, *uploads_dir;
        size_t max_body, max_upload, max_header;
        long max_json_depth, max_connections, max_connections_per_address, reserved_connections;
        long header_timeout, idle_timeout, request_timeout, shutdown_grace;
        long max_tokens, db_connections;
        int public_metrics;
    } server;
    struct {
        const char *path, *url, *remote_model, *api_key, *chat_template, *reasoning;
        long ctx, max_tokens, slots, queue, threads, remote_ctx, retries;
        double timeout, top_p;
    } model;
    struct {
        const char *model, *url, *remote_model, *api_key, *query_prefix, *doc_prefix;
        long remote_ctx, retries;
        double timeout;
    } embed;
    struct {
        const char *model;
        long top;
    } rerank;
    struct {
        const char *mode;
        long k, answer_k, candidates, rrf_k;
        int dedupe, rerank, answer_per_document;
        double dup_similarity;
    } search;
    struct {
        double min_keyword, min_vector, min_rerank;
        int trim_passages;
        const char *followup;
    } answer;
    struct {
        size_t large_group;
        const char *large_factory;
        long ef_search;
    } vector;
    struct {
        const char *default_labels;
    } acl;
    struct {
        size_t max_size;
        long chunk_tokens, overlap_tokens, max_pages, ocr_cpu_limit, threads;
        int include_hidden;
        const char *ocr, *ocr_languages;
        double fetch_timeout, crawl_delay;
    } ingest;
    struct {
        int allow_private;
        const char *allow;
    } net;
    struct {
        const char *dir;
    } models;
    struct {
        const char *replica;
        double max_lag, poll, statement_timeout;
        long lease, max_attempts;
    } cluster;
    struct {
        long keep_days, max_answers;
    } feedback;

    /* provenance, by index in rag_setting_defs */
    unsigned program;
    unsigned char *origin; /* rag_setting_origin */
    char **where;          /* "FILE:LINE", "$VAR", "--flag", or NULL for defaults */
    char **text;           /* the value as written (NULL: unset) */
} rag_settings;

/* A flag given on the command line: the setting it sets, its value as
 * written ("true" for a switch) and its name for messages ("-k"). */
typedef struct rag_setting_flag {
    const char *key, *value, *name;
} rag_setting_flag;

/* Resolves every setting `program` reads from flags (n of them), the
 * environment and cfg (may be NULL), in that order, then the defaults.
 * Refuses keys in cfg that are not settings or that only the other program
 * reads, and values that do not parse or are out of range, naming where they
 * were set. Free with rag_settings_free (also after a failure). */
int rag_settings_resolve(rag_settings *s, unsigned program, const rag_config *cfg,
                         const rag_setting_flag *flags, size_t n, rag_err *err);
void rag_settings_free(rag_settings *s);

/* The definition of key, or NULL; its index in *index when found. */
const rag_setting_def *rag_setting_find(const char *key, size_t *index);
/* Where key's value came from. */
rag_setting_origin rag_settings_origin(const rag_settings *s, const char *key);
/* "FILE:LINE", "$VAR", "--flag" or "default", for messages. */
const char *rag_settings_where(const rag_settings *s, const char *key);

/* Prints every setting `program` reads, "key = value  # origin", secrets
 * hidden; with json an object {key: {value, from}} instead. */
void rag_settings_print(const rag_settings *s, FILE *f, int json);

/* Whether a model location is a server URL (http:// or https://). */
int rag_is_url(const char *s);

#endif
