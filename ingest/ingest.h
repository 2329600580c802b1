/* ingest/ingest.h: the door of the ingest module.
 *
 * ing_run walks files and directories, extracts and normalises their text,
 * cuts it into chunks and stores documents and chunks. It is incremental
 * (unchanged files are not read again, changed files replace their chunks in
 * one transaction), resumable (a killed run loses at most the uncommitted
 * batch, which the next run redoes), and tolerant (a broken file is reported
 * and skipped; the run goes on). */
#ifndef RAG_INGEST_INGEST_H
#define RAG_INGEST_INGEST_H

#include "base/buf.h"
#include "base/err.h"
#include "embed/embed.h"
#include "net/net.h"
#include "store/store.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ing_status {
    ING_ADDED,
    ING_UPDATED, /* content changed, or moved to other labels */
    ING_UNCHANGED,
    ING_REMOVED, /* --prune: the file is gone */
    ING_SKIPPED, /* not a document (unknown binary type; an empty or
                  * whitespace-only file, reason "empty"): not an error */
    ING_FAILED,  /* broken file: reported, nothing stored for it */
} ing_status;

typedef struct ing_progress {
    size_t files_done, files_total;
    uint64_t bytes_done, bytes_total;
    double seconds;
    const char *current; /* path being processed (borrowed) */
} ing_progress;

typedef struct ing_params {
    /* ACL labels for the documents of this run (sorted, unique). NULL: new
     * documents get default_labels and existing ones keep theirs. */
    const rag_strv *labels;
    const rag_strv *default_labels; /* may be NULL: no label (administrators only) */
    const rag_strv *include;        /* globs; a file must match one (when any given) */
    const rag_strv *exclude;        /* globs; matching files and directories are left out */
    int prune;            /* remove documents under the given paths whose files are gone */
    const char *ext_id;   /* explicit document id (one file only) */
    size_t max_file_size; /* bytes; larger files fail */
    int include_hidden;   /* walk into dot-files and dot-directories */
    size_t chunk_tokens, overlap_tokens; /* chunk target and overlap, in tokens */
    /* OCR of images and of PDF pages without text (when built with it):
     * ING_OCR_AUTO (0, the default), ING_OCR_NEVER or ING_OCR_ALWAYS (see
     * ingest/ing_int.h); the languages, "eng+deu" (NULL: eng when installed,
     * else every one installed); CPU seconds per image or per PDF's pages
     * (0: the default, 300). */
    int ocr_mode;
    const char *ocr_languages;
    unsigned ocr_cpu_s;
    /* Threads reading and extracting files ahead of the one writing them
     * (ingest.threads): 0 one per CPU (at most 8), 1 none (the writing
     * thread reads each file itself). The database ends the same whatever
     * the number: files are written and reported in their sorted order. */
    int threads;
    volatile sig_atomic_t *cancel; /* set to non-zero to stop after the current file */
    /* Embedding model (borrowed), or NULL: chunks are then stored without
     * vectors. It must be the model the database's vectors come from (see
     * ing_reembed to switch); chunks are sized with its tokenizer. */
    emb_model *embedder;
    /* When set, the chunks' vectors come from embed_fn(embed_ctx, ...) (as
     * emb_embed(embedder, texts, n, EMB_DOCUMENT, 1, out, cut, err) would
     * give them) instead of a call of the model: ragd passes its embedding
     * queue, so that its clients' queries take turns with an upload's
     * chunks. The embedder still sizes the chunks and names the model. */
    int (*embed_fn)(void *embed_ctx, const char *const *texts, size_t n, float *out, uint8_t *cut,
                    rag_err *err);
    void *embed_ctx;

    /* http(s) URLs among the paths are fetched (see ingest/crawl.c). The
     * document's source (uri) is the URL as given. */
    const net_policy *net_policy; /* NULL: private addresses refused */
    int crawl_depth;              /* follow same-site links this deep (0: the page only) */
    double crawl_delay;           /* seconds between requests to one site (default 1) */
    size_t max_pages;             /* pages one crawl fetches at most (default 1000) */
    double fetch_timeout;         /* seconds per page (default 30) */
    int max_redirects;            /* default 5 */

    /* Called for every file with its outcome; reason is NULL for success. */
    void (*on_file)(void *ctx, const char *path, ing_status st, const char *reason);
    /* Called after each file (the caller throttles its display). */
    void (*on_progress)(void *ctx, const ing_progress *p);
    void *ctx;
} ing_params;

void ing_default_params(ing_params *p);
/* ing_params.ocr_mode of a setting's word: "auto", "never", "always"
 * (NULL or another word: auto). */
int ing_ocr_mode_of(const char *word);

typedef struct ing_report {
    size_t added, updated, unchanged, removed, skipped, failed;
    size_t chunks;       /* chunks written by this run */
    uint64_t bytes;      /* bytes of files read (new or changed content) */
    uint64_t bytes_seen; /* bytes of all files considered */
    double seconds;
    int cancelled;
} ing_report;

/* Ingests `paths` (files or directories). Returns 0 when the run completed
 * (individual files may have failed: see report->failed), or a negative code
 * for a failure that stops the run (the database could not be written). */
int ing_run(store *s, const char *const *paths, size_t n_paths, const ing_params *p,
            ing_report *report, rag_err *err);

/* Ingests one page fetched already (ing_fetch_page): its source is url,
 * its type the one content_type names. Like ing_run with one path. */
int ing_run_page(store *s, const char *url, const rag_buf *body, const char *content_type,
                 const ing_params *p, ing_report *report, rag_err *err);

/* Ingests bytes whose source is uri (a file elsewhere: a cluster worker
 * given a file's bytes): typed from their content and uri's name as a file
 * is; its modification time is now. Like ing_run with one path. */
int ing_run_bytes(store *s, const char *uri, const rag_buf *body, const ing_params *p,
                  ing_report *report, rag_err *err);

/* Fetches one URL as ing_run would (p's policy, limits and timeout), for
 * callers that fetch outside their write lock. On success *body and
 * *content_type are set (free both). */
int ing_fetch_page(const char *url, const ing_params *p, rag_buf *body, char **content_type,
                   rag_err *err);

/* The files an ing_run of `paths` would consider (p's include, exclude and
 * hidden rules), as canonical absolute paths (their documents' uris), in
 * walk order; paths that cannot be walked are reported through p->on_file
 * and counted in *n_failed. URLs among paths are left out. */
void ing_list(const char *const *paths, size_t n_paths, const ing_params *p, rag_strv *uris,
              size_t *n_failed);

/* The store's record of an embedding model's identity. */
void ing_model_record(const emb_model *m, store_model *out);

/* 1 when m is the model the database's vectors come from, 0 when it is
 * another or the database has none, negative on error. */
int ing_model_matches(store *s, const emb_model *m, rag_err *err);

/* Refuses (RAG_ERR_INVALID, saying what differs: file, pooling or
 * prefixes) when the database has vectors from a model other than m. */
int ing_model_require(store *s, const emb_model *m, rag_err *err);

/* Checks that m is the model the database's vectors come from, recording it
 * as that model when the database has none yet; *model_id is its store id.
 * A different model is refused (RAG_ERR_INVALID) with an explanation. */
int ing_model_check(store *s, const emb_model *m, int64_t *model_id, rag_err *err);

typedef struct ing_reembed_report {
    int64_t n_chunks, n_embedded, n_already; /* chunks in all, embedded now, done before */
    double seconds;
    int cancelled, switched; /* switched: the database now uses the model */
} ing_reembed_report;

/* Re-embeds every chunk with m and makes m the database's model, dropping
 * the old vectors at the end. Resumable: a killed or interrupted run keeps
 * what it embedded (committed in batches) and the next run with the same
 * model continues; until it completes, the old model stays in use.
 * on_progress reports chunks as files (files_done/files_total). */
int ing_reembed(store *s, emb_model *m, const ing_params *p, ing_reembed_report *report,
                rag_err *err);

#endif
