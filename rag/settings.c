/* rag/settings.c: the settings table and how a value is found (see
 * rag/settings.h).
 *
 * Each row is one key, once. Resolution is one pass over the table: for
 * each key the program reads, the first of flag, environment variable and
 * config-file line that gives it a value wins; else its default. Each value
 * is parsed by its type and checked against its bounds by the same code in
 * both programs, so a key means the same in `rag` and `ragd`. A few rules
 * tie two keys together (a model file or a server; the overlap below the
 * chunk size; reserved connections below the maximum); they follow the
 * table, in check_pairs. etc/rag.conf and etc/ragd.conf document every key
 * a program reads: tests/integration/settings.sh compares them with this
 * table. */
#include "rag/settings.h"
#include "base/mem.h"
#include "base/principal.h"
#include "cluster/cluster.h"
#include "llm/llm.h"
#include "net/net.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OFF(field) offsetof(rag_settings, field)
#define R RAG_PROG_RAG
#define D RAG_PROG_RAGD
#define B RAG_PROG_BOTH
#define TB (1024.0 * 1024 * 1024 * 1024)

/* One server or a pool of them: "URL[, URL]..." (net/pool.c). */
static int check_urls(const char *v, rag_err *err)
{
    return net_url_list_check(v, err);
}

static int check_labels(const char *v, rag_err *err)
{
    rag_strv labels = {0};
    int rc = rag_labels_parse(v, "labels", &labels, err);
    rag_strv_free(&labels);
    return rc;
}

/* "eng", "eng+deu": names of traineddata files (whether they are installed
 * is checked when OCR runs, where the tessdata directory is looked up). */
static int check_ocr_languages(const char *v, rag_err *err)
{
    size_t n = strlen(v);
    int ok = n > 0 && n < 400 && v[0] != '+' && v[n - 1] != '+' && !strstr(v, "++");
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
             (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '-' || v[i] == '+';
    if (ok) return 0;
    return rag_err_set(err, RAG_ERR_INVALID,
                       "'%.40s' is not a list of OCR languages (such as eng or eng+deu)", v);
}

static int check_template(const char *v, rag_err *err)
{
    if (llm_chat_family_from_name(v) >= 0) return 0;
    return rag_err_set(err, RAG_ERR_INVALID,
                       "'%.40s' is not a chat template (chatml, llama3, llama2, mistral, gemma, "
                       "phi3, qwen3, chatml-think)",
                       v);
}

/* Columns: key, type, lo, hi, lo_open, choices, default, variable, flag,
 * programs (R rag, D ragd, B both), secret, check, field, help. */
const rag_setting_def rag_setting_defs[] = {
    {"db", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_DB", "--db", B, 0, NULL, OFF(db),
     "the database: a SQLite file (default $XDG_DATA_HOME/rag/rag.db), or a PostgreSQL URL "
     "(postgresql://, postgres:// or a libpq conninfo string) for cluster mode"},

    {"server.listen", RAG_SET_STRING, 0, 0, 0, NULL, "127.0.0.1:8080", "RAGD_LISTEN", "--listen", D,
     0, NULL, OFF(server.listen), "ADDR:PORT to listen on (port 0: any free one)"},
    {"server.max_body", RAG_SET_SIZE, 1024, TB, 0, NULL, "1M", NULL, NULL, D, 0, NULL,
     OFF(server.max_body), "bytes of a JSON request body (more: 413)"},
    {"server.max_upload", RAG_SET_SIZE, 1024, TB, 0, NULL, "64M", NULL, NULL, D, 0, NULL,
     OFF(server.max_upload), "bytes of a document upload (more: 413)"},
    {"server.max_header", RAG_SET_SIZE, 1024, 16 << 20, 0, NULL, "16K", NULL, NULL, D, 0, NULL,
     OFF(server.max_header), "bytes of a request's line and headers (more: 431)"},
    {"server.max_json_depth", RAG_SET_INT, 2, 1000, 0, NULL, "32", NULL, NULL, D, 0, NULL,
     OFF(server.max_json_depth), "nesting of JSON bodies (deeper: 400)"},
    {"server.max_connections", RAG_SET_INT, 1, 100000, 0, NULL, "256", NULL, NULL, D, 0, NULL,
     OFF(server.max_connections), "connections served at once"},
    {"server.idle_timeout", RAG_SET_INT, 1, 86400, 0, NULL, "60", NULL, NULL, D, 0, NULL,
     OFF(server.idle_timeout), "seconds an idle keep-alive connection with a valid key is kept"},
    {"server.max_connections_per_address", RAG_SET_INT, 1, 100000, 0, NULL, "128", NULL, NULL, D, 0,
     NULL, OFF(server.max_connections_per_address), "connections from one client address"},
    {"server.reserved_connections", RAG_SET_INT, 0, 100000, 0, NULL, "64", NULL, NULL, D, 0, NULL,
     OFF(server.reserved_connections),
     "connections only clients that showed a valid key may hold (below max_connections)"},
    {"server.header_timeout", RAG_SET_INT, 1, 3600, 0, NULL, "10", NULL, NULL, D, 0, NULL,
     OFF(server.header_timeout), "seconds to send a request's head"},
    {"server.request_timeout", RAG_SET_INT, 1, 86400, 0, NULL, "300", NULL, NULL, D, 0, NULL,
     OFF(server.request_timeout), "seconds a request may take, queueing included"},
    {"server.shutdown_grace", RAG_SET_INT, 0, 3600, 0, NULL, "30", NULL, NULL, D, 0, NULL,
     OFF(server.shutdown_grace), "seconds requests in flight get at SIGTERM"},
    {"server.max_tokens", RAG_SET_INT, 1, 1 << 20, 0, NULL, "2048", NULL, NULL, D, 0, NULL,
     OFF(server.max_tokens), "the most tokens a request may ask for"},
    {"server.public_metrics", RAG_SET_BOOL, 0, 0, 0, NULL, "false", NULL, NULL, D, 0, NULL,
     OFF(server.public_metrics), "serve GET /metrics without a key"},
    {"server.uploads_dir", RAG_SET_STRING, 0, 0, 0, NULL, NULL, NULL, NULL, D, 0, NULL,
     OFF(server.uploads_dir), "where uploaded files are kept (default DB.uploads)"},
    {"server.db_connections", RAG_SET_INT, 1, 1024, 0, NULL, "8", NULL, NULL, D, 0, NULL,
     OFF(server.db_connections), "database connections shared by the request threads"},

    {"model.path", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_MODEL", "--model", B, 0, NULL,
     OFF(model.path), "the generator, a GGUF chat model (without one, answers are extractive)"},
    {"model.ctx", RAG_SET_INT, 16, 1 << 20, 0, NULL, "0", NULL, "--ctx", B, 0, NULL, OFF(model.ctx),
     "context size in tokens (0: the smaller of the model's and 4096; a server: remote_ctx)"},
    {"model.max_tokens", RAG_SET_INT, 1, 1 << 20, 0, NULL, "512", NULL, "-n", B, 0, NULL,
     OFF(model.max_tokens),
     "the most tokens of an answer (ragd: of one whose request does not say; at most "
     "server.max_tokens)"},
    {"model.top_p", RAG_SET_REAL, 0, 1, 1, NULL, "0.95", NULL, NULL, B, 0, NULL, OFF(model.top_p),
     "nucleus sampling of answers sampled with a temperature above 0 (1: off)"},
    {"model.chat_template", RAG_SET_STRING, 0, 0, 0, NULL, NULL, NULL, "--template", B, 0,
     check_template, OFF(model.chat_template),
     "the chat template when the model's is not recognised"},
    {"model.reasoning", RAG_SET_CHOICE, 0, 0, 0, "off on auto", "auto", NULL, "--reasoning", B, 0,
     NULL, OFF(model.reasoning),
     "whether a reasoning model (Qwen3) thinks before it answers: off, on, or auto (off for "
     "answers from the documents, on for plain chat); a request may say otherwise"},
    {"model.slots", RAG_SET_INT, 1, 64, 0, NULL, "4", NULL, "--slots", D, 0, NULL, OFF(model.slots),
     "answers generated at once"},
    {"model.queue", RAG_SET_INT, 0, 100000, 0, NULL, "16", NULL, NULL, D, 0, NULL, OFF(model.queue),
     "answers that may wait for a slot (more: 429)"},
    {"model.threads", RAG_SET_INT, 1, 1024, 0, NULL, "0", NULL, "--threads", B, 0, NULL,
     OFF(model.threads), "compute threads per model (0: every CPU)"},
    {"model.url", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_MODEL_URL", "--model", B, 1, check_urls,
     OFF(model.url),
     "or OpenAI-compatible servers write the answers: base URLs ending in /v1, comma-separated "
     "(at most 16; each answer goes to the least busy one that is up)"},
    {"model.remote_model", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_MODEL_REMOTE_MODEL", NULL, B,
     0, NULL, OFF(model.remote_model), "the model asked of that server (required with url)"},
    {"model.api_key", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_MODEL_API_KEY", NULL, B, 1, NULL,
     OFF(model.api_key), "its bearer key"},
    {"model.remote_ctx", RAG_SET_INT, 16, 1 << 24, 0, NULL, "8192", NULL, NULL, B, 0, NULL,
     OFF(model.remote_ctx), "its context in tokens"},
    {"model.timeout", RAG_SET_REAL, 0.1, 86400, 0, NULL, "300", NULL, NULL, B, 0, NULL,
     OFF(model.timeout), "seconds for a whole answer"},
    {"model.retries", RAG_SET_INT, 0, 10, 0, NULL, "2", NULL, NULL, B, 0, NULL, OFF(model.retries),
     "attempts after 429, 5xx or a failed connection (never once text came; with several "
     "servers, each other server is tried once instead)"},

    {"embed.model", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_EMBED_MODEL", "--embed-model", B, 0,
     NULL, OFF(embed.model), "the embedding model (GGUF); without one, search is keyword only"},
    {"embed.query_prefix", RAG_SET_STRING, 0, 0, 0, NULL, NULL, NULL, NULL, B, 0, NULL,
     OFF(embed.query_prefix), "prefix of queries (default: the model family's)"},
    {"embed.doc_prefix", RAG_SET_STRING, 0, 0, 0, NULL, NULL, NULL, NULL, B, 0, NULL,
     OFF(embed.doc_prefix), "prefix of documents (default: the model family's)"},
    {"embed.url", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_EMBED_URL", "--embed-model", B, 1,
     check_urls, OFF(embed.url),
     "or OpenAI-compatible servers compute the vectors: base URLs ending in /v1, comma-separated "
     "(at most 16; each request goes to the least busy one that is up)"},
    {"embed.remote_model", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_EMBED_REMOTE_MODEL", NULL, B,
     0, NULL, OFF(embed.remote_model), "the model asked of that server (required with url)"},
    {"embed.api_key", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_EMBED_API_KEY", NULL, B, 1, NULL,
     OFF(embed.api_key), "its bearer key"},
    {"embed.remote_ctx", RAG_SET_INT, 16, 1 << 24, 0, NULL, "512", NULL, NULL, B, 0, NULL,
     OFF(embed.remote_ctx), "the most tokens one input may take"},
    {"embed.timeout", RAG_SET_REAL, 0.1, 86400, 0, NULL, "60", NULL, NULL, B, 0, NULL,
     OFF(embed.timeout), "seconds per request"},
    {"embed.retries", RAG_SET_INT, 0, 10, 0, NULL, "3", NULL, NULL, B, 0, NULL, OFF(embed.retries),
     "attempts after 429, 5xx or a failed connection (with several servers, each other server is "
     "tried once instead)"},

    {"rerank.model", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_RERANK_MODEL", "--rerank-model", B,
     0, NULL, OFF(rerank.model), "a cross-encoder that reorders the best candidates"},
    {"rerank.top", RAG_SET_INT, 1, 10000, 0, NULL, "0", NULL, "--rerank-top", B, 0, NULL,
     OFF(rerank.top), "candidates the reranker reorders (0: the larger of 3k and 30)"},

    {"search.k", RAG_SET_INT, 1, 1000, 0, NULL, "10", NULL, "-k (rag search)", B, 0, NULL,
     OFF(search.k), "results of a search that does not say"},
    {"search.answer_k", RAG_SET_INT, 1, 50, 0, NULL, "6", NULL, "-k (rag ask)", B, 0, NULL,
     OFF(search.answer_k), "passages an answer is written from"},
    {"search.answer_per_document", RAG_SET_BOOL, 0, 0, 0, NULL, "false", NULL, NULL, B, 0, NULL,
     OFF(search.answer_per_document),
     "an answer takes at most one passage per document (else the best passages wherever they are)"},
    {"search.mode", RAG_SET_CHOICE, 0, 0, 0, "keyword vector hybrid", "hybrid", NULL, "--mode", B,
     0, NULL, OFF(search.mode),
     "keyword, vector, or hybrid (keyword when the database has no vectors)"},
    {"search.candidates", RAG_SET_INT, 1, 10000, 0, NULL, "0", NULL, NULL, B, 0, NULL,
     OFF(search.candidates),
     "candidates each stage ranks before fusion (0: the larger of 4k and 50)"},
    {"search.rrf_k", RAG_SET_INT, 1, 100000, 0, NULL, "60", NULL, NULL, B, 0, NULL,
     OFF(search.rrf_k), "the reciprocal-rank fusion constant"},
    {"search.dedupe", RAG_SET_BOOL, 0, 0, 0, NULL, "true", NULL, NULL, B, 0, NULL,
     OFF(search.dedupe), "collapse near-duplicate chunks"},
    {"search.dup_similarity", RAG_SET_REAL, 0, 1, 1, NULL, "0.85", NULL, NULL, B, 0, NULL,
     OFF(search.dup_similarity), "word 3-shingle similarity from which chunks are duplicates"},
    {"search.rerank", RAG_SET_BOOL, 0, 0, 0, NULL, "false", NULL, "--rerank", B, 0, NULL,
     OFF(search.rerank), "rerank every search and answer"},

    {"answer.min_keyword", RAG_SET_REAL, 0, 1, 0, NULL, "0.5", NULL, NULL, B, 0, NULL,
     OFF(answer.min_keyword),
     "share of the question's term weight a passage must hold to be used in an answer"},
    {"answer.min_vector", RAG_SET_REAL, -1, 1, 0, NULL, "0.75", NULL, NULL, B, 0, NULL,
     OFF(answer.min_vector),
     "or the cosine similarity to the question it must reach (vector stage)"},
    {"answer.min_rerank", RAG_SET_REAL, 0, 1, 0, NULL, "0.2", NULL, NULL, B, 0, NULL,
     OFF(answer.min_rerank), "with a reranker: the probability it must give the passage instead"},
    {"answer.trim_passages", RAG_SET_BOOL, 0, 0, 0, NULL, "true", NULL, NULL, B, 0, NULL,
     OFF(answer.trim_passages),
     "give a model each passage from its first to its last sentence that bears on the question, "
     "a sentence more on each side"},
    {"answer.followup", RAG_SET_CHOICE, 0, 0, 0, "rewrite expand off", "rewrite", NULL, NULL, B, 0,
     NULL, OFF(answer.followup),
     "a follow-up retrieves for: the generator's standalone rewrite (expanded without one), "
     "the expansion by the earlier questions' words, or itself (off)"},

    {"vector.large_group", RAG_SET_SIZE, 1, TB, 0, NULL, "50000", NULL, NULL, B, 0, NULL,
     OFF(vector.large_group), "vectors up to which an ACL group gets an exact flat index"},
    {"vector.large_factory", RAG_SET_STRING, 0, 0, 0, NULL, "HNSW32,Flat", NULL, NULL, B, 0, NULL,
     OFF(vector.large_factory), "the FAISS index factory of larger groups"},
    {"vector.ef_search", RAG_SET_INT, 1, 65536, 0, NULL, "64", NULL, NULL, B, 0, NULL,
     OFF(vector.ef_search), "HNSW search depth"},

    {"acl.default_labels", RAG_SET_STRING, 0, 0, 0, NULL, NULL, NULL, NULL, B, 0, check_labels,
     OFF(acl.default_labels),
     "labels of new documents that name none (without: administrators only)"},

    {"ingest.max_size", RAG_SET_SIZE, 1, TB, 0, NULL, "256M", NULL, "--max-size", R, 0, NULL,
     OFF(ingest.max_size), "larger files are refused"},
    {"ingest.chunk_tokens", RAG_SET_INT, 16, 1000000, 0, NULL, "320", NULL, "--chunk-tokens", B, 0,
     NULL, OFF(ingest.chunk_tokens), "chunk size in tokens"},
    {"ingest.overlap_tokens", RAG_SET_INT, 0, 1000000, 0, NULL, "48", NULL, "--overlap-tokens", B,
     0, NULL, OFF(ingest.overlap_tokens),
     "overlap of chunks in tokens (below chunk_tokens; when only chunk_tokens is set, 15% of it)"},
    {"ingest.threads", RAG_SET_INT, 0, 64, 0, NULL, "0", NULL, "--jobs", R, 0, NULL,
     OFF(ingest.threads),
     "threads extracting files ahead of the writer (0: one per CPU, at most 8)"},
    {"ingest.include_hidden", RAG_SET_BOOL, 0, 0, 0, NULL, "false", NULL, "--hidden", R, 0, NULL,
     OFF(ingest.include_hidden), "walk into files and directories whose names start with '.'"},
    {"ingest.ocr", RAG_SET_CHOICE, 0, 0, 0, "auto never always", "auto", NULL, "--ocr", B, 0, NULL,
     OFF(ingest.ocr),
     "OCR (when built in): auto reads images and PDF pages without text, never skips them, "
     "always reads every PDF page as an image"},
    {"ingest.ocr_languages", RAG_SET_STRING, 0, 0, 0, NULL, NULL, NULL, NULL, B, 0,
     check_ocr_languages, OFF(ingest.ocr_languages),
     "OCR languages, '+'-separated (eng+deu; default eng when installed, else every one installed "
     "in the tessdata directory)"},
    {"ingest.ocr_cpu_limit", RAG_SET_INT, 1, 86400, 0, NULL, "300", NULL, NULL, B, 0, NULL,
     OFF(ingest.ocr_cpu_limit), "CPU seconds OCR may take for one image or one PDF's pages"},
    {"ingest.fetch_timeout", RAG_SET_REAL, 0, 3600, 1, NULL, "30", NULL, NULL, B, 0, NULL,
     OFF(ingest.fetch_timeout), "seconds to fetch one page"},
    {"ingest.crawl_delay", RAG_SET_REAL, 0, 86400, 0, NULL, "1", NULL, "--crawl-delay", R, 0, NULL,
     OFF(ingest.crawl_delay), "seconds between two requests to one site when crawling"},
    {"ingest.max_pages", RAG_SET_INT, 1, 1000000, 0, NULL, "1000", NULL, "--max-pages", R, 0, NULL,
     OFF(ingest.max_pages), "the most pages one crawl fetches"},

    {"net.allow_private", RAG_SET_BOOL, 0, 0, 0, NULL, "false", NULL, "--allow-private", B, 0, NULL,
     OFF(net.allow_private), "fetch from private, loopback and link-local addresses"},
    {"net.allow", RAG_SET_STRING, 0, 0, 0, NULL, NULL, NULL, "--allow-private=LIST", B, 0,
     net_allow_list_check, OFF(net.allow), "these addresses or CIDR blocks only"},

    {"models.dir", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_MODELS_DIR", NULL, R, 0, NULL,
     OFF(models.dir), "where rag pull puts models (default $XDG_DATA_HOME/rag/models)"},

    {"cluster.replica", RAG_SET_STRING, 0, 0, 0, NULL, NULL, "RAG_REPLICA", "--replica", B, 0, NULL,
     OFF(cluster.replica),
     "this machine's replica of the cluster, a SQLite database (default replica.db beside the "
     "default database)"},
    {"cluster.max_lag", RAG_SET_REAL, 0, 86400, 1, NULL, "2", NULL, NULL, D, 0, NULL,
     OFF(cluster.max_lag), "seconds a replica may trail the cluster before /health calls it stale"},
    {"cluster.poll", RAG_SET_REAL, 0.01, 60, 0, NULL, "0.2", NULL, NULL, D, 0, NULL,
     OFF(cluster.poll), "seconds between two looks at the cluster's change log"},
    {"cluster.statement_timeout", RAG_SET_REAL, 1, 86400, 0, NULL, "30", NULL, NULL, B, 0, NULL,
     OFF(cluster.statement_timeout), "seconds one PostgreSQL statement may take"},
    {"cluster.lease", RAG_SET_INT, 5, 86400, 0, NULL, "120", NULL, "--lease", R, 0, NULL,
     OFF(cluster.lease),
     "seconds a worker holds an ingest job before another may take it (renewed while it works)"},
    {"cluster.max_attempts", RAG_SET_INT, 1, 100, 0, NULL, "3", NULL, NULL, R, 0, NULL,
     OFF(cluster.max_attempts), "times a job is tried before it ends failed"},

    {"feedback.keep_days", RAG_SET_INT, 0, 36500, 0, NULL, "90", NULL, NULL, D, 0, NULL,
     OFF(feedback.keep_days),
     "days answers and their ratings are kept (0: answers are not recorded)"},
    {"feedback.max_answers", RAG_SET_INT, 1, 100000000, 0, NULL, "100000", NULL, NULL, D, 0, NULL,
     OFF(feedback.max_answers), "the most answers kept (the oldest go first)"},
};
const size_t rag_n_settings = sizeof rag_setting_defs / sizeof rag_setting_defs[0];

int rag_is_url(const char *s)
{
    return s && (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8));
}

const rag_setting_def *rag_setting_find(const char *key, size_t *index)
{
    for (size_t i = 0; i < rag_n_settings; i++)
        if (!strcmp(rag_setting_defs[i].key, key)) {
            if (index) *index = i;
            return &rag_setting_defs[i];
        }
    return NULL;
}

/* Keys that were renamed: a file that still has one is told the new name. */
static const char *const renamed[][2] = {
    {"server.default_max_tokens", "model.max_tokens"},
};

static const char *program_name(unsigned p)
{
    return p == RAG_PROG_RAG ? "rag" : p == RAG_PROG_RAGD ? "ragd" : "rag and ragd";
}

/* Parses v as d says into s's field; err names where and key. */
static int parse_value(rag_settings *s, const rag_setting_def *d, const char *v, const char *where,
                       rag_err *err)
{
    char *field = (char *)s + d->offset;
    char *end;
    switch (d->type) {
    case RAG_SET_STRING:
    case RAG_SET_CHOICE: {
        if (d->type == RAG_SET_CHOICE) {
            size_t n = strlen(v);
            const char *c = d->choices;
            int ok = 0;
            while (*c && !ok) {
                size_t w = strcspn(c, " ");
                ok = w == n && n && !strncmp(c, v, n);
                c += w + (c[w] == ' ');
            }
            if (!ok)
                return rag_err_set(err, RAG_ERR_INVALID, "%s: %s: '%.40s' is not one of: %s", where,
                                   d->key, v, d->choices);
        }
        if (d->check) {
            rag_err e = {0};
            if (d->check(v, &e))
                return rag_err_set(err, RAG_ERR_INVALID, "%s: %s: %s", where, d->key, e.msg);
        }
        *(const char **)field = v;
        return 0;
    }
    case RAG_SET_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                    "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (!strcasecmp(v, yes[i])) return *(int *)field = 1, 0;
            if (!strcasecmp(v, no[i])) return *(int *)field = 0, 0;
        }
        return rag_err_set(err, RAG_ERR_INVALID, "%s: %s: expected true or false, not '%.40s'",
                           where, d->key, v);
    }
    case RAG_SET_SIZE: {
        size_t n;
        if (rag_parse_size(v, &n) < 0 || (double)n < d->lo || (double)n > d->hi)
            return rag_err_set(err, RAG_ERR_INVALID,
                               "%s: %s: expected a size from %.0f to %.0f bytes (K, M, G "
                               "suffixes), not '%.40s'",
                               where, d->key, d->lo, d->hi, v);
        *(size_t *)field = n;
        return 0;
    }
    case RAG_SET_INT: {
        errno = 0;
        long n = strtol(v, &end, 10);
        if (end == v || *end || errno || (double)n < d->lo || (double)n > d->hi)
            return rag_err_set(err, RAG_ERR_INVALID,
                               "%s: %s: expected a whole number from %.0f to %.0f, not '%.40s'",
                               where, d->key, d->lo, d->hi, v);
        *(long *)field = n;
        return 0;
    }
    case RAG_SET_REAL: {
        double x = strtod(v, &end);
        if (end == v || *end || !isfinite(x) || x < d->lo || (d->lo_open && x == d->lo) ||
            x > d->hi)
            return rag_err_set(err, RAG_ERR_INVALID,
                               "%s: %s: expected a number in %s%g, %g], not '%.40s'", where, d->key,
                               d->lo_open ? "(" : "[", d->lo, d->hi, v);
        *(double *)field = x;
        return 0;
    }
    }
    return rag_err_set(err, RAG_ERR_INVALID, "%s: no such type", d->key);
}

/* The index of a key of the table (a key the code names: always there). */
static size_t idx(const char *key)
{
    size_t i = 0;
    if (!rag_setting_find(key, &i)) abort();
    return i;
}

/* Rules that tie keys together; refused as the table's values are. */
static int check_pairs(rag_settings *s, rag_err *err)
{
    static const char *const roles[][2] = {{"model.path", "model.url"},
                                           {"embed.model", "embed.url"}};
    unsigned prog = s->program;
    for (size_t r = 0; r < 2; r++) {
        size_t ip = idx(roles[r][0]), iu = idx(roles[r][1]);
        const char *path = s->text[ip], *url = s->text[iu];
        /* a URL given where a file goes (--model URL, RAG_MODEL=URL) is the server */
        if (path && rag_is_url(path) && (!url || s->origin[ip] > s->origin[iu])) {
            rag_free(s->text[iu]);
            url = s->text[iu] = s->text[ip];
            s->text[ip] = NULL;
            rag_free(s->where[iu]);
            s->where[iu] = s->where[ip];
            s->where[ip] = NULL;
            s->origin[iu] = s->origin[ip];
            s->origin[ip] = RAG_FROM_DEFAULT;
            path = NULL;
            rag_err e = {0};
            if (net_url_list_check(url, &e))
                return rag_err_set(err, RAG_ERR_INVALID, "%s: %s: %s", s->where[iu], roles[r][1],
                                   e.msg);
        }
        if (path && url) {
            if (s->origin[ip] == s->origin[iu])
                return rag_err_set(err, RAG_ERR_INVALID,
                                   "%s: %s and %s are both set: a model file or a server, not both",
                                   s->where[iu], roles[r][0], roles[r][1]);
            /* the higher level names the model; the lower is not used */
            int keep_path = s->origin[ip] > s->origin[iu];
            size_t drop = keep_path ? iu : ip;
            rag_free(s->text[drop]);
            rag_free(s->where[drop]);
            s->text[drop] = s->where[drop] = NULL;
            s->origin[drop] = RAG_FROM_DEFAULT;
        }
        *(const char **)((char *)s + rag_setting_defs[ip].offset) = s->text[ip];
        *(const char **)((char *)s + rag_setting_defs[iu].offset) = s->text[iu];
        if (s->text[iu]) { /* a server needs the name of its model */
            char key[64];
            snprintf(key, sizeof key, "%.*s.remote_model",
                     (int)(strchr(roles[r][0], '.') - roles[r][0]), roles[r][0]);
            size_t im = idx(key);
            const rag_setting_def *d = &rag_setting_defs[im];
            if (!s->text[im] || !*s->text[im]) {
                char *shown = net_url_list_public(s->text[iu]);
                rag_err_set(err, RAG_ERR_INVALID,
                            "the server %.100s (%s) needs the name of its model: %s or %s", shown,
                            s->where[iu], key, d->env);
                rag_free(shown);
                return RAG_ERR_INVALID;
            }
        }
    }
    if ((prog & RAG_PROG_RAGD) && s->server.reserved_connections >= s->server.max_connections)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "server.reserved_connections (%ld) must be less than "
                           "server.max_connections (%ld)",
                           s->server.reserved_connections, s->server.max_connections);
    if ((prog & RAG_PROG_RAGD) && s->model.max_tokens > s->server.max_tokens)
        s->model.max_tokens = s->server.max_tokens;
    size_t ic = idx("ingest.chunk_tokens"), io = idx("ingest.overlap_tokens");
    if (s->origin[ic] != RAG_FROM_DEFAULT && s->origin[io] == RAG_FROM_DEFAULT)
        s->ingest.overlap_tokens = s->ingest.chunk_tokens * 15 / 100;
    if (s->ingest.overlap_tokens >= s->ingest.chunk_tokens)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "ingest.overlap_tokens (%ld, %s) must be smaller than "
                           "ingest.chunk_tokens (%ld, %s)",
                           s->ingest.overlap_tokens, rag_settings_where(s, "ingest.overlap_tokens"),
                           s->ingest.chunk_tokens, rag_settings_where(s, "ingest.chunk_tokens"));
    return 0;
}

int rag_settings_resolve(rag_settings *s, unsigned program, const rag_config *cfg,
                         const rag_setting_flag *flags, size_t n, rag_err *err)
{
    memset(s, 0, sizeof *s);
    s->program = program;
    s->origin = rag_xcalloc(rag_n_settings, 1);
    s->where = rag_xcalloc(rag_n_settings, sizeof *s->where);
    s->text = rag_xcalloc(rag_n_settings, sizeof *s->text);
    /* the file may only hold this program's keys */
    const char **known = rag_xcalloc(rag_n_settings + 1, sizeof *known);
    size_t nk = 0;
    for (size_t i = 0; i < rag_n_settings; i++) {
        const rag_setting_def *d = &rag_setting_defs[i];
        if (d->programs & program) {
            known[nk++] = d->key;
        } else if (rag_config_get(cfg, d->key)) {
            rag_free(known);
            return rag_err_set(err, RAG_ERR_INVALID, "%s: %s is a setting of %s, not of %s",
                               rag_config_where(cfg, d->key), d->key, program_name(d->programs),
                               program_name(program));
        }
    }
    for (size_t i = 0; i < sizeof renamed / sizeof *renamed; i++)
        if (rag_config_get(cfg, renamed[i][0])) {
            rag_free(known);
            return rag_err_set(err, RAG_ERR_INVALID, "%s: %s is now %s",
                               rag_config_where(cfg, renamed[i][0]), renamed[i][0], renamed[i][1]);
        }
    int rc = cfg ? rag_config_check_keys(cfg, known, err) : 0;
    rag_free(known);
    if (rc) return rc;
    for (size_t f = 0; f < n; f++)
        if (!rag_setting_find(flags[f].key, NULL))
            return rag_err_set(err, RAG_ERR_INVALID, "%s: no setting %s", flags[f].name,
                               flags[f].key);
    for (size_t i = 0; i < rag_n_settings; i++) {
        const rag_setting_def *d = &rag_setting_defs[i];
        if (!(d->programs & program)) continue;
        const char *v = NULL;
        for (size_t f = 0; f < n; f++) /* the last flag wins */
            if (!strcmp(flags[f].key, d->key) && flags[f].value) {
                v = flags[f].value;
                s->origin[i] = RAG_FROM_FLAG;
                rag_free(s->where[i]);
                s->where[i] = rag_xstrdup(flags[f].name);
            }
        const char *e = !v && d->env ? getenv(d->env) : NULL;
        if (e && *e) {
            v = e;
            s->origin[i] = RAG_FROM_ENV;
            s->where[i] = rag_xasprintf("$%s", d->env);
        } else if (!v && (v = rag_config_get(cfg, d->key))) {
            s->origin[i] = RAG_FROM_FILE;
            s->where[i] = rag_xstrdup(rag_config_where(cfg, d->key));
        }
        if (v) {
            s->text[i] = rag_xstrdup(v);
            if ((rc = parse_value(s, d, s->text[i], s->where[i], err))) return rc;
        } else if (d->def) {
            s->text[i] = rag_xstrdup(d->def);
            /* defaults are not bound-checked: 0 means "worked out" */
            rag_setting_def loose = *d;
            loose.lo = -INFINITY, loose.hi = INFINITY, loose.lo_open = 0;
            if ((rc = parse_value(s, &loose, s->text[i], "default", err))) return rc;
        }
    }
    return check_pairs(s, err);
}

void rag_settings_free(rag_settings *s)
{
    for (size_t i = 0; s->text && i < rag_n_settings; i++) {
        rag_free(s->text[i]);
        rag_free(s->where[i]);
    }
    rag_free(s->text);
    rag_free(s->where);
    rag_free(s->origin);
    memset(s, 0, sizeof *s);
}

rag_setting_origin rag_settings_origin(const rag_settings *s, const char *key)
{
    size_t i;
    if (!s->origin || !rag_setting_find(key, &i)) return RAG_FROM_DEFAULT;
    return (rag_setting_origin)s->origin[i];
}

const char *rag_settings_where(const rag_settings *s, const char *key)
{
    size_t i;
    if (!s->where || !rag_setting_find(key, &i) || !s->where[i]) return "default";
    return s->where[i];
}

/* One URL as shown: its userinfo, if any, replaced by "(hidden)". */
static int show_url(void *ctx, const char *u, size_t n, size_t i)
{
    rag_buf *b = ctx;
    if (i) rag_buf_puts(b, ", ");
    char *one = rag_xstrndup(u, n), *pub = net_url_public(one);
    const char *scheme = strstr(one, "://");
    if (strcmp(one, pub) && scheme) { /* it had userinfo */
        size_t k = (size_t)(scheme + 3 - one);
        rag_buf_append(b, one, k);
        rag_buf_puts(b, "(hidden)@");
        rag_buf_puts(b, pub + k);
    } else {
        rag_buf_puts(b, one);
    }
    rag_free(pub);
    rag_free(one);
    return 0;
}

/* The value as shown: secrets and the password of each URL (of a list)
 * hidden. */
static char *shown(const rag_setting_def *d, const char *v)
{
    if (!v) return NULL;
    if (clu_is_url(v)) return clu_redact(v); /* a PostgreSQL URL: its password */
    if (d->secret && !rag_is_url(v)) return rag_xstrdup("(set, hidden)");
    if (!rag_is_url(v)) return rag_xstrdup(v);
    rag_buf b = {0};
    net_url_list_each(v, show_url, &b);
    return rag_buf_steal(&b);
}

void rag_settings_print(const rag_settings *s, FILE *f, int json)
{
    cJSON *o = json ? cJSON_CreateObject() : NULL;
    for (size_t i = 0; i < rag_n_settings; i++) {
        const rag_setting_def *d = &rag_setting_defs[i];
        if (!(d->programs & s->program)) continue;
        const char *v = s->text ? s->text[i] : NULL;
        /* worked-out values are what the field holds (overlap_tokens) */
        char num[64];
        if (v && d->type == RAG_SET_INT) {
            snprintf(num, sizeof num, "%ld", *(const long *)((const char *)s + d->offset));
            v = num;
        }
        char *show = shown(d, v);
        const char *from = s->where && s->where[i] ? s->where[i] : "default";
        if (json) {
            cJSON *e = cJSON_AddObjectToObject(o, d->key);
            if (show)
                cJSON_AddStringToObject(e, "value", show);
            else
                cJSON_AddNullToObject(e, "value");
            cJSON_AddStringToObject(e, "from", from);
        } else {
            char line[512];
            snprintf(line, sizeof line, "%s = %s", d->key, show ? show : "");
            if (show)
                fprintf(f, "%-44s # %s\n", line, from);
            else
                fprintf(f, "%-44s # unset: %s\n", line, d->help);
        }
        rag_free(show);
    }
    if (json) {
        char *t = cJSON_Print(o);
        if (t) fprintf(f, "%s\n", t);
        cJSON_free(t);
        cJSON_Delete(o);
    }
}
