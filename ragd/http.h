/* ragd/http.h: requests and responses as the API handlers see them.
 *
 * ragd/server.c owns HTTP (libmicrohttpd): it reads and bounds the request,
 * authenticates the caller, parses a JSON body (bounded in size and depth),
 * picks the handler by method and path, sends what the handler returns and
 * logs it. Handlers (the ragd/api files) see only these types. */
#ifndef RAG_RAGD_HTTP_H
#define RAG_RAGD_HTTP_H

#include "base/buf.h"
#include "base/config.h"
#include "base/principal.h"
#include "net/net.h"
#include "ragd/engine.h"
#include "ragd/metrics.h"
#include "rag/relevance.h"
#include "rag/retrieve.h"

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Limits and settings of the server ([server] in ragd.conf). */
typedef struct ragd_server_params {
    const char *listen;  /* "ADDR:PORT" (default 127.0.0.1:8080; port 0: any free one) */
    size_t max_body;     /* bytes of a JSON request body (default 1 MiB) */
    size_t max_upload;   /* bytes of a document upload (default 64 MiB) */
    size_t max_header;   /* bytes of the request line and headers (default 16 KiB) */
    int max_json_depth;  /* nesting of JSON bodies (default 32) */
    int max_connections; /* open connections (default 256) */
    int max_connections_per_address; /* from one client address (default 128) */
    int reserved_connections; /* of max_connections, held only by connections that showed a valid
                                 key (default 64) */
    int header_timeout;       /* seconds to send a request's head (default 10) */
    int idle_timeout;         /* seconds a keep-alive connection may idle (default 60) */
    int request_timeout;      /* seconds a request may take, queueing included (default 300) */
    int shutdown_grace;       /* seconds in-flight requests get at SIGTERM (default 30) */
    int max_tokens;           /* most tokens an answer may ask for (default 2048) */
    int default_max_tokens;   /* when a request does not say (model.max_tokens, default 512) */
    double default_top_p;     /* when a request does not say (model.top_p, default 0.95) */
    const char *reasoning;    /* whether a reasoning model thinks when a request does not say
                                 (model.reasoning: off, on, auto; NULL: auto) */
    int answer_per_document;  /* a grounded answer takes one passage per document unless the
                                 request says (search.answer_per_document, default 0) */
    int public_metrics;       /* GET /metrics without a key (default 0: admin keys) */
    const char *uploads_dir;  /* where uploaded documents are kept (default DB.uploads) */
    /* retrieval defaults ([search]) */
    rag_retrieve_params retrieval; /* candidates, rrf_k, dedupe, dup_jaccard */
    const char *search_mode;       /* keyword, vector, hybrid, or NULL */
    int search_rerank;             /* rerank unless a request says otherwise */
    int search_k;                  /* results of /v1/search (default 10) */
    int answer_k;                  /* chunks retrieved for an answer (default 6) */
    rag_cutoff cutoff;             /* the relevance cutoff of answers ([answer]) */
    int followup;                  /* answer.followup: rag_followup_mode (default rewrite) */
    /* uploads ([acl], [ingest]) */
    const rag_strv *default_labels;      /* labels of an administrator's upload that names none */
    size_t chunk_tokens, overlap_tokens; /* 0: the ingest defaults */
    net_policy fetch_policy;             /* uploads by URL: which addresses ([net]) */
    double fetch_timeout; /* seconds to fetch one (ingest.fetch_timeout, default 30) */
    /* OCR of uploaded images and scanned PDFs (ingest.ocr, ocr_languages,
     * ocr_cpu_limit): ing_params' ocr_mode, ocr_languages, ocr_cpu_s */
    int ocr_mode;
    const char *ocr_languages;
    unsigned ocr_cpu_s;
} ragd_server_params;

void ragd_server_default_params(ragd_server_params *p);

typedef struct ragd_server ragd_server;

/* A body produced by another thread (server-sent events): the producer
 * writes, the server's connection thread reads and sends. Either side may
 * go first; the stream lives until both are done with it. */
typedef struct ragd_stream ragd_stream;

ragd_stream *ragd_stream_new(void);
/* Appends data; returns -1 once the reader is gone (the client left). */
int ragd_stream_write(ragd_stream *s, const char *data, size_t len);
int ragd_stream_printf(ragd_stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The producer is done (no more writes); drops its hold. */
void ragd_stream_end(ragd_stream *s);
/* Non-zero once the reader is gone or the server is stopping in a hurry:
 * the producer should stop. */
int ragd_stream_cancelled(const ragd_stream *s);
/* The flag behind ragd_stream_cancelled, for loops that poll a pointer. */
volatile int *ragd_stream_cancel_flag(ragd_stream *s);

typedef struct ragd_request {
    const char *id; /* request id (X-Request-Id) */
    const char *method;
    const char *path;    /* without the query string */
    const char *route;   /* the route's template, e.g. "/v1/documents/{id}" */
    const char *path_id; /* the {id} part of the path, when the route has one */
    const char *content_type;
    const char *body; /* the body (NUL-terminated), body_len bytes */
    size_t body_len;
    cJSON *json; /* the parsed body, for JSON routes */
    /* the caller */
    rag_principal who;
    int perms; /* STORE_PERM_* */
    char key_name[65];
    /* shared state */
    ragd_server *srv;
    ragd_engine *engine;
    ragd_meter *meter;
    const ragd_server_params *params;
    double started;  /* rag_now_s() when it arrived */
    double deadline; /* started + request_timeout */
    void *conn;      /* the server's */
} ragd_request;

typedef struct ragd_response {
    int status;
    cJSON *json;             /* the body as JSON (owned), or */
    char *body;              /* a body (from malloc: freed with free()), or */
    const char *static_body; /* a body that outlives the response */
    size_t body_len;
    const char *content_type; /* for body and static_body */
    ragd_stream *stream;      /* a streamed body (text/event-stream) */
    int retry_after;          /* seconds (429, 503) */
    int html;                 /* the chat page: its security headers */
    const char *allow;        /* methods, for 405 */
} ragd_response;

/* A query-string argument, or NULL. */
const char *ragd_request_arg(const ragd_request *r, const char *name);
/* The fields of a multipart/form-data (or urlencoded) body, piece by
 * piece: fn(ctx, name, filename or NULL, data, offset in the field, len);
 * fn returns non-zero to stop. Returns 0, or -1 when the body is not a form
 * or is malformed. */
typedef int (*ragd_form_fn)(void *ctx, const char *name, const char *filename, const char *data,
                            uint64_t off, size_t len);
int ragd_request_form(const ragd_request *r, ragd_form_fn fn, void *ctx);
/* Non-zero when the client has closed its connection (checked without
 * waiting), or the server is stopping in a hurry. */
int ragd_request_gone(const ragd_request *r);

/* An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
 * type follows from the status unless given; param may be NULL. */
void ragd_error(ragd_response *resp, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same from a rag_err, with the status its code calls for. */
void ragd_error_from(ragd_response *resp, const rag_err *err);

/* Starts listening (threads of its own); the address actually bound is
 * in *bound ("ADDR:PORT"). */
int ragd_server_start(const ragd_server_params *p, ragd_engine *e, ragd_meter *m, ragd_server **out,
                      char bound[64], rag_err *err);
/* Reloads the API keys from the database (SIGHUP); returns how many. */
int ragd_server_reload_keys(ragd_server *s, size_t *n, rag_err *err);
/* Stops accepting connections, waits up to the grace period for requests
 * in flight, cancels what is left, and stops. */
void ragd_server_stop(ragd_server *s);
/* Requests in flight now. */
int ragd_server_active(ragd_server *s);
/* Work that outlives its request (a stream's producer) holds the server
 * so that shutdown waits for it too. */
void ragd_server_hold(ragd_server *s);
void ragd_server_release(ragd_server *s);

/* ---- handlers (ragd/api.c, ragd/api_chat.c, ragd/api_docs.c, ragd/api_feedback.c) ---- */
typedef void (*ragd_handler)(ragd_request *req, ragd_response *resp);

void ragd_api_health(ragd_request *req, ragd_response *resp);
void ragd_api_metrics(ragd_request *req, ragd_response *resp);
void ragd_api_models(ragd_request *req, ragd_response *resp);
void ragd_api_search(ragd_request *req, ragd_response *resp);
void ragd_api_embeddings(ragd_request *req, ragd_response *resp);
void ragd_api_chat(ragd_request *req, ragd_response *resp);
void ragd_api_feedback(ragd_request *req, ragd_response *resp);
void ragd_api_documents_list(ragd_request *req, ragd_response *resp);
void ragd_api_documents_get(ragd_request *req, ragd_response *resp);
void ragd_api_documents_post(ragd_request *req, ragd_response *resp);
void ragd_api_documents_delete(ragd_request *req, ragd_response *resp);
void ragd_api_page(ragd_request *req, ragd_response *resp);

/* The chat page (ragd/web/chat.html, built in by ragd/web.c). */
const char *ragd_web_page(size_t *len);

/* Gauges for /metrics that only the server knows. */
void ragd_server_gauges(ragd_server *s, ragd_meter_gauges *g);

#endif
