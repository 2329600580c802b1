/* ragd/server.c: HTTP for ragd, on libmicrohttpd (see ragd/http.h).
 *
 * Threads. libmicrohttpd runs one thread per connection (bounded by
 * max_connections), so a handler may block: a non-streamed answer is
 * generated in the connection's own thread. A streamed answer is generated
 * by a thread of its own that writes into a ragd_stream; the connection
 * thread reads it and sends each piece as it comes (chunked encoding).
 *
 * A request, in order:
 *   0. the head: how the body is framed must be beyond doubt, and the head
 *      may hide nothing behind a NUL byte (400, and the connection
 *      closed); the path and query arguments must be valid UTF-8 without
 *      NUL (400);
 *   1. the route (404, 405; HEAD is GET without the body), then the caller: "Authorization: Bearer
 * KEY" checked against the keyring (401), its permission for the route (403), then the declared
 * body size (413) — all before reading a byte of the body, so that nobody can make us buffer what
 * they may not send;
 *   2. the body, bounded: past the limit it is read and dropped (up to
 *      DRAIN_CAP more) and answered 413, so the client sees the answer; a
 *      chunked one is answered 413 at once (refuse_chunked);
 *   3. JSON bodies: nesting depth checked before parsing (400), then
 *      parsed (400 with the byte offset), then every string checked: valid
 *      UTF-8, no \u0000 (400 naming the field);
 *   4. the handler; the response; one log line with the request id.
 *
 * Connections are limited per address and in all, with a share that only
 * keyed connections may hold, and a head must come in time (see
 * "connections" below).
 *
 * Shutdown (SIGTERM): the listening socket closes at once, new generations
 * are refused, requests in flight get the grace period to finish; then what
 * is left is cancelled (generations stop at the next token, streams end). */
#include "ragd/http.h"
#include "rag/converse.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "base/utf8.h"
#include "rag/keys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { PERM_PUBLIC = 0, PERM_METRICS = -1 };

typedef enum body_kind { BODY_NONE, BODY_JSON, BODY_UPLOAD } body_kind;

typedef struct route {
    const char *method;
    const char *path; /* exact, or a prefix ending in '/' followed by {id} */
    const char *name; /* for logs and metrics */
    int perm;         /* STORE_PERM_* needed, PERM_PUBLIC, or PERM_METRICS */
    body_kind body;
    ragd_handler handler;
} route;

static const route routes[] = {
    {"GET", "/", "/", PERM_PUBLIC, BODY_NONE, ragd_api_page},
    {"GET", "/health", "/health", PERM_PUBLIC, BODY_NONE, ragd_api_health},
    {"GET", "/metrics", "/metrics", PERM_METRICS, BODY_NONE, ragd_api_metrics},
    {"GET", "/v1/models", "/v1/models", STORE_PERM_QUERY, BODY_NONE, ragd_api_models},
    {"POST", "/v1/chat/completions", "/v1/chat/completions", STORE_PERM_QUERY, BODY_JSON,
     ragd_api_chat},
    {"POST", "/v1/feedback", "/v1/feedback", STORE_PERM_QUERY, BODY_JSON, ragd_api_feedback},
    {"POST", "/v1/embeddings", "/v1/embeddings", STORE_PERM_QUERY, BODY_JSON, ragd_api_embeddings},
    {"POST", "/v1/search", "/v1/search", STORE_PERM_QUERY, BODY_JSON, ragd_api_search},
    {"GET", "/v1/documents", "/v1/documents", STORE_PERM_QUERY, BODY_NONE, ragd_api_documents_list},
    {"POST", "/v1/documents", "/v1/documents", STORE_PERM_INGEST, BODY_UPLOAD,
     ragd_api_documents_post},
    {"GET", "/v1/documents/", "/v1/documents/{id}", STORE_PERM_QUERY, BODY_NONE,
     ragd_api_documents_get},
    {"DELETE", "/v1/documents/", "/v1/documents/{id}", STORE_PERM_INGEST, BODY_NONE,
     ragd_api_documents_delete},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

/* A connection, from its start to its close (libmicrohttpd's socket context). */
typedef struct conn_slot {
    struct conn_slot *prev, *next; /* oldest first */
    int fd;
    unsigned char addr[17]; /* family, then the address */
    int trusted;            /* has carried a request with a valid key */
    int closing;            /* shut by us: no longer counted */
    double deadline;        /* the head of its next request is due by then (0: none) */
} conn_slot;

struct ragd_server {
    struct MHD_Daemon *d;
    ragd_server_params p;
    ragd_engine *engine;
    ragd_meter *meter;
    rag_keyring *keys;
    pthread_mutex_t keys_mu;
    uint64_t keys_version; /* cluster mode: the replica's keys version loaded */
    pthread_mutex_t mu;    /* active, connections */
    pthread_cond_t cv;
    int active; /* requests and stream producers in flight */
    int connections;
    conn_slot *first, *last; /* open connections, oldest first (under mu) */
    int n_open, n_untrusted; /* of them, not closing */
    pthread_t watchdog;
    int watching, watch_stop; /* under mu */
    volatile int hurry;       /* cancel what is in flight */
    char id_prefix[9];
    unsigned long long next_id;
};

/* ---- defaults ------------------------------------------------------------------ */

void ragd_server_default_params(ragd_server_params *p)
{
    memset(p, 0, sizeof *p);
    p->listen = "127.0.0.1:8080";
    p->max_body = 1u << 20;
    p->max_upload = 64u << 20;
    p->max_header = 16u << 10;
    p->max_json_depth = 32;
    p->max_connections = 256;
    p->max_connections_per_address = 128;
    p->reserved_connections = 64;
    p->header_timeout = 10;
    p->idle_timeout = 60;
    p->request_timeout = 300;
    p->shutdown_grace = 30;
    p->max_tokens = 2048;
    p->default_max_tokens = 512;
    p->default_top_p = 0.95;
    rag_retrieve_default_params(&p->retrieval);
    p->search_k = 10;
    p->answer_k = 6;
    p->cutoff = (rag_cutoff){0.5, 0.75, 0.2, 1}; /* the defaults of answer.* */
    p->followup = RAG_FOLLOWUP_REWRITE;
}

/* ---- streams ------------------------------------------------------------------- */

struct ragd_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rag_buf buf;
    size_t off;          /* bytes of buf already sent */
    int ended;           /* the producer is done */
    int reader_gone;     /* the connection is done (client left, or all sent) */
    volatile int cancel; /* the producer should stop */
    int refs;
    int fd; /* the client's socket, to notice it leaving */
    volatile int *hurry;
};

ragd_stream *ragd_stream_new(void)
{
    ragd_stream *s = rag_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->refs = 2; /* the producer and the connection */
    s->fd = -1;
    return s;
}

static void stream_unref(ragd_stream *s)
{
    pthread_mutex_lock(&s->mu);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last) return;
    rag_buf_free(&s->buf);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    rag_free(s);
}

int ragd_stream_write(ragd_stream *s, const char *data, size_t len)
{
    pthread_mutex_lock(&s->mu);
    int gone = s->reader_gone;
    if (!gone) {
        rag_buf_append(&s->buf, data, len);
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return gone ? -1 : 0;
}

int ragd_stream_printf(ragd_stream *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    int rc = ragd_stream_write(s, text, (size_t)n);
    free(text);
    return rc;
}

void ragd_stream_end(ragd_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->ended = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

int ragd_stream_cancelled(const ragd_stream *s)
{
    return s->cancel || s->reader_gone || (s->hurry && *s->hurry);
}

volatile int *ragd_stream_cancel_flag(ragd_stream *s)
{
    return &s->cancel;
}

/* Whether the peer of fd has closed (without waiting). */
static int peer_closed(int fd)
{
    if (fd < 0) return 0;
    struct pollfd pf = {.fd = fd, .events = POLLRDHUP};
    return poll(&pf, 1, 0) > 0 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* libmicrohttpd asks for the next bytes (in the connection's thread). */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    ragd_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    ssize_t n;
    for (;;) {
        if (s->off < s->buf.len) {
            size_t take = s->buf.len - s->off < max ? s->buf.len - s->off : max;
            memcpy(out, s->buf.data + s->off, take);
            s->off += take;
            if (s->off == s->buf.len) {
                rag_buf_clear(&s->buf);
                s->off = 0;
            }
            n = (ssize_t)take;
            break;
        }
        if (s->ended) {
            n = MHD_CONTENT_READER_END_OF_STREAM;
            break;
        }
        if (peer_closed(s->fd) || (s->hurry && *s->hurry && s->cancel)) {
            s->cancel = 1;
            n = MHD_CONTENT_READER_END_WITH_ERROR;
            break;
        }
        if (s->hurry && *s->hurry) s->cancel = 1; /* let the producer end the stream */
        struct timespec ts = ragd_wake_time(0.2);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* libmicrohttpd is done with the stream (sent, or the client left). */
static void stream_done(void *cls)
{
    ragd_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    s->reader_gone = 1;
    if (!s->ended) s->cancel = 1;
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

/* ---- errors ---------------------------------------------------------------------- */

static const char *error_type(int status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 503:
        return "overloaded_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

void ragd_error(ragd_response *resp, int status, const char *param, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (resp->json) cJSON_Delete(resp->json);
    resp->status = status;
    resp->json = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(resp->json, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", error_type(status));
    if (param)
        cJSON_AddStringToObject(e, "param", param);
    else
        cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
}

void ragd_error_from(ragd_response *resp, const rag_err *err)
{
    int status;
    switch (err->code) {
    case RAG_ERR_INVALID:
    case RAG_ERR_FORMAT:
        status = 400;
        break;
    case RAG_ERR_LIMIT:
        status = 413;
        break;
    case RAG_ERR_NOTFOUND:
        status = 404;
        break;
    case RAG_ERR_BUSY:
        status = 429;
        break;
    case RAG_ERR_UNSUPPORTED:
        status = 501;
        break;
    case RAG_ERR_INTERRUPTED:
        status = 503;
        break;
    case RAG_ERR_NET:
        status = 502;
        break;
    case RAG_ERR_DENIED:
        status = 403;
        break;
    default:
        status = 500;
        break;
    }
    /* What the database or the system said (SQLite's words, file names of
     * the server) is for the log, never for the client. */
    int internal = status == 500 || strstr(err->msg, "constraint failed") ||
                   (err->code == RAG_ERR_BUSY && strstr(err->msg, "database is locked"));
    if (internal) {
        rag_log_warn("%s", err->msg[0] ? err->msg : rag_err_name(err->code));
        if (status != 429) status = 500;
        ragd_error(resp, status, NULL, "%s",
                   status == 429 ? "the database is busy: try again"
                                 : "internal error (the server's log has the details)");
    } else {
        ragd_error(resp, status, NULL, "%s", err->msg[0] ? err->msg : rag_err_name(err->code));
    }
    if (status == 429) resp->retry_after = 1;
}

/* ---- per request ------------------------------------------------------------------ */

/* A body over the limit is still read (and dropped) up to this much past
 * it, so that the 413 reaches a client that sends before it listens:
 * closing a socket with unread data resets the connection and the client
 * never sees the answer. Beyond it the server answers at once and closes.
 * A chunked body is answered at once when it passes the limit, and at most
 * this much more is dropped before closing (refuse_chunked). */
#define DRAIN_CAP ((size_t)4 << 20)

typedef struct reqctx {
    ragd_request req;
    const route *rt;
    struct MHD_Connection *conn;
    char id[48];
    char *path, *path_id;
    rag_buf body;
    int responded;     /* a response was queued */
    int close;         /* close the connection after the response */
    int chunked;       /* the body comes in chunks (no length said) */
    size_t over_limit; /* body bytes past the limit, read and dropped (0: within it) */
    int status;
    int fd;
} reqctx;

const char *ragd_request_arg(const ragd_request *r, const char *name)
{
    reqctx *x = r->conn;
    return MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct form_run {
    ragd_form_fn fn;
    void *ctx;
    int stopped;
} form_run;

static enum MHD_Result form_piece(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
    (void)kind, (void)content_type, (void)transfer_encoding;
    form_run *f = cls;
    if (f->fn(f->ctx, key, filename, data, off, size)) {
        f->stopped = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

int ragd_request_form(const ragd_request *r, ragd_form_fn fn, void *ctx)
{
    reqctx *x = r->conn;
    form_run f = {fn, ctx, 0};
    struct MHD_PostProcessor *pp = MHD_create_post_processor(x->conn, 64 * 1024, form_piece, &f);
    if (!pp) return -1;
    enum MHD_Result ok = MHD_post_process(pp, r->body, r->body_len);
    enum MHD_Result done = MHD_destroy_post_processor(pp);
    return (ok == MHD_YES && done == MHD_YES) || f.stopped ? 0 : -1;
}

int ragd_request_gone(const ragd_request *r)
{
    reqctx *x = r->conn;
    return r->srv->hurry || peer_closed(x->fd);
}

static void log_request(ragd_server *s, reqctx *x, double secs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    (void)s;
    fprintf(stderr, "%s.%03ldZ %s %s %s %s %d %.1fms\n", when, ts.tv_nsec / 1000000, x->id,
            x->req.key_name[0] ? x->req.key_name : "-", x->req.method ? x->req.method : "?",
            x->path ? x->path : "?", x->status, secs * 1e3);
}

/* ---- connections ---------------------------------------------------------------------
 *
 * Idle and slow clients must not hold the slots that real work needs:
 *   - a connection must send the head of a request (request line and
 *     headers) within header_timeout of opening, and of its previous
 *     response when kept alive without having shown a key (idle_timeout
 *     when it has), however slowly the bytes trickle in; a body must have
 *     come within request_timeout of its head;
 *   - at most max_connections_per_address connections from one address;
 *   - connections that have not (yet) carried a request with a valid key
 *     hold at most max_connections - reserved_connections slots.
 * Past a limit, the oldest connection that has shown no key gives way to
 * the new one (it is closed), so that idle sockets cannot lock a client
 * out: a real client sends its request at once and so keeps its slot.
 * Only when every connection concerned has shown a key is the new one
 * refused (closed at once). A response with an error to a request without
 * a valid key closes its connection. */

static void conn_unlink(ragd_server *s, conn_slot *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->last = c->prev;
}

/* Closes c (under mu): its thread in libmicrohttpd sees the end and cleans up. */
static void conn_shut(ragd_server *s, conn_slot *c)
{
    if (c->closing) return;
    c->closing = 1;
    s->n_open--;
    if (!c->trusted) s->n_untrusted--;
    if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
}

/* The oldest open connection that has shown no key (from addr, when not
 * NULL), other than self. */
static conn_slot *conn_oldest_untrusted(ragd_server *s, const unsigned char *addr,
                                        const conn_slot *self)
{
    for (conn_slot *c = s->first; c; c = c->next)
        if (c != self && !c->closing && !c->trusted &&
            (!addr || !memcmp(c->addr, addr, sizeof c->addr)))
            return c;
    return NULL;
}

/* Makes room for the new connection c (under mu), or closes it. */
static void conn_admit(ragd_server *s, conn_slot *c)
{
    int same = 0;
    for (conn_slot *o = s->first; o; o = o->next)
        if (o != c && !o->closing && !memcmp(o->addr, c->addr, sizeof c->addr)) same++;
    if (same >= s->p.max_connections_per_address) {
        conn_slot *old = conn_oldest_untrusted(s, c->addr, c);
        conn_shut(s, old ? old : c);
        if (!old) return;
    }
    if (s->n_untrusted > s->p.max_connections - s->p.reserved_connections) {
        conn_slot *old = conn_oldest_untrusted(s, NULL, c);
        conn_shut(s, old ? old : c);
        if (!old) return;
    }
    if (s->n_open > s->p.max_connections) {
        conn_slot *old = conn_oldest_untrusted(s, NULL, c);
        conn_shut(s, old ? old : c);
    }
}

static void connection_notify(void *cls, struct MHD_Connection *mc, void **socket_ctx,
                              enum MHD_ConnectionNotificationCode code)
{
    ragd_server *s = cls;
    conn_slot *c = *socket_ctx;
    pthread_mutex_lock(&s->mu);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        s->connections++;
        c = rag_xcalloc(1, sizeof *c);
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        c->fd = fi ? fi->connect_fd : -1;
        if (ai && ai->client_addr) {
            const struct sockaddr *sa = ai->client_addr;
            c->addr[0] = (unsigned char)sa->sa_family;
            if (sa->sa_family == AF_INET)
                memcpy(c->addr + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
            else if (sa->sa_family == AF_INET6)
                memcpy(c->addr + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        }
        c->deadline = rag_now_s() + s->p.header_timeout;
        c->prev = s->last;
        if (s->last)
            s->last->next = c;
        else
            s->first = c;
        s->last = c;
        s->n_open++;
        s->n_untrusted++;
        *socket_ctx = c;
        conn_admit(s, c);
    } else {
        s->connections--;
        if (c) {
            if (!c->closing) {
                s->n_open--;
                if (!c->trusted) s->n_untrusted--;
            }
            conn_unlink(s, c);
            rag_free(c);
        }
        *socket_ctx = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}

static conn_slot *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The head of the next request (or the body) is due by deadline (0: no
 * deadline); trusted: the connection has shown a valid key. */
static void conn_due(ragd_server *s, struct MHD_Connection *mc, double deadline, int trusted)
{
    conn_slot *c = conn_of(mc);
    if (!c) return;
    pthread_mutex_lock(&s->mu);
    c->deadline = deadline;
    if (trusted && !c->trusted) {
        c->trusted = 1;
        if (!c->closing) s->n_untrusted--;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Closes the connections that are late with a request's head or body. */
static void *watchdog_main(void *arg)
{
    ragd_server *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->watch_stop) {
        double now = rag_now_s();
        for (conn_slot *c = s->first; c; c = c->next)
            if (!c->closing && c->deadline > 0 && now > c->deadline) conn_shut(s, c);
        struct timespec ts = ragd_wake_time(0.25);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)c;
    ragd_server *s = cls;
    reqctx *x = *con_cls;
    if (!x) return;
    double secs = rag_now_s() - x->req.started;
    if (!x->status)
        x->status = 499; /* the client left before any response */
    else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && x->status < 400)
        x->status = 499;
    log_request(s, x, secs);
    conn_slot *cs = conn_of(x->conn);
    int trusted = cs && cs->trusted; /* (only this connection's thread sets it) */
    conn_due(s, x->conn, rag_now_s() + (trusted ? s->p.idle_timeout : s->p.header_timeout), 0);
    ragd_meter_request(s->meter, x->rt ? x->rt->name : "other", x->status, secs);
    if (x->req.json) cJSON_Delete(x->req.json);
    rag_principal_free(&x->req.who);
    rag_buf_free(&x->body);
    rag_free(x->path);
    rag_free(x->path_id);
    rag_free(x);
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Sends resp (consumes it). */
static enum MHD_Result respond(ragd_server *s, reqctx *x, ragd_response *resp)
{
    struct MHD_Response *r;
    const char *type = resp->content_type;
    if (resp->stream) {
        resp->stream->fd = x->fd;
        resp->stream->hurry = &s->hurry;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read,
                                              resp->stream, stream_done);
        type = "text/event-stream";
    } else if (resp->json) {
        char *text = cJSON_PrintUnformatted(resp->json);
        size_t n = strlen(text);
        char *copy = malloc(n + 2);
        memcpy(copy, text, n);
        copy[n] = '\n';
        copy[n + 1] = 0;
        cJSON_free(text);
        r = MHD_create_response_from_buffer(n + 1, copy, MHD_RESPMEM_MUST_FREE);
        type = "application/json";
    } else if (resp->body) {
        r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
        resp->body = NULL; /* now libmicrohttpd's (it frees with free()) */
    } else {
        const char *b = resp->static_body ? resp->static_body : "";
        size_t n = resp->static_body ? resp->body_len : 0;
        r = MHD_create_response_from_buffer(n, (void *)b, MHD_RESPMEM_PERSISTENT);
    }
    if (resp->json) cJSON_Delete(resp->json);
    resp->json = NULL;
    if (!r) {
        if (resp->stream) stream_done(resp->stream);
        return MHD_NO;
    }
    if (type) MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Request-Id", x->id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (resp->stream) MHD_add_response_header(r, "X-Accel-Buffering", "no");
    if (resp->html) {
        MHD_add_response_header(
            r, "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
    }
    if (resp->status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"ragd\"");
    if (resp->status >= 400 && !x->req.key_name[0]) x->close = 1; /* no key shown: do not keep it */
    if (x->close) MHD_add_response_header(r, "Connection", "close");
    if (resp->allow) MHD_add_response_header(r, "Allow", resp->allow);
    if (resp->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", resp->retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    x->status = resp->status ? resp->status : 200;
    x->responded = 1;
    enum MHD_Result ok = MHD_queue_response(x->conn, (unsigned)x->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result respond_error(ragd_server *s, reqctx *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result respond_error(ragd_server *s, reqctx *x, int status, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ragd_response resp = {0};
    ragd_error(&resp, status, NULL, "%s", msg);
    return respond(s, x, &resp);
}

/* The route for method and path: *rt, or the status to answer (404, 405
 * with the methods allowed in allow). */
static int find_route(const char *method, const char *path, const route **rt, char **id,
                      char allow[64])
{
    allow[0] = 0;
    int path_known = 0;
    for (size_t i = 0; i < N_ROUTES; i++) {
        const route *r = &routes[i];
        size_t pl = strlen(r->path);
        int match;
        const char *rest = NULL;
        if (pl > 1 && r->path[pl - 1] == '/') { /* prefix/{id} */
            rest = path + pl;
            match =
                !strncmp(path, r->path, pl) && *rest && !strchr(rest, '/') && strlen(rest) <= 128;
        } else {
            match = !strcmp(path, r->path);
        }
        if (!match) continue;
        path_known = 1;
        /* HEAD is answered as GET, without the body (libmicrohttpd drops it) */
        if (!strcmp(method, r->method) || (!strcmp(method, "HEAD") && !strcmp(r->method, "GET"))) {
            *rt = r;
            *id = rest ? rag_xstrdup(rest) : NULL;
            return 0;
        }
        const char *m = !strcmp(r->method, "GET") ? "GET, HEAD" : r->method;
        if (!strstr(allow, r->method) && strlen(allow) + strlen(m) + 3 < 64) {
            if (allow[0]) strcat(allow, ", ");
            strcat(allow, m);
        }
    }
    return path_known ? 405 : 404;
}

/* Deepest nesting of arrays and objects in JSON text (strings skipped). */
static int json_depth(const char *s, size_t n, int limit)
{
    int depth = 0, deepest = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) deepest = depth;
            if (deepest > limit) return deepest;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return deepest;
}

/* ---- what a request may hold --------------------------------------------------------- */

static int utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l =
            (unsigned char)s[i] < 0x80 ? 1 : rag_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

typedef struct jframe {
    char kind;       /* '{' or '[' */
    int expect_key;  /* an object: the next string is a key */
    int index;       /* an array: the element now */
    const char *key; /* an object: the member now (checked text, escapes as written) */
    size_t key_len;
} jframe;

/* Where frames[0..depth) point, as "messages[2].content" (keys shown as
 * written, "?" for one that is not plain). */
static void json_path(const jframe *f, int depth, char *out, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    for (int d = 0; d < depth && len + 1 < n; d++) {
        if (f[d].kind == '[') {
            len += (size_t)snprintf(out + len, n - len, "[%d]", f[d].index);
        } else if (f[d].key) {
            int plain = f[d].key_len > 0 && f[d].key_len < 64;
            for (size_t i = 0; plain && i < f[d].key_len; i++)
                plain = f[d].key[i] > ' ' && f[d].key[i] < 127 && f[d].key[i] != '\\';
            len += (size_t)snprintf(out + len, n - len, "%s%.*s", len ? "." : "",
                                    plain ? (int)f[d].key_len : 1, plain ? f[d].key : "?");
        }
        if (len >= n) len = n - 1;
    }
}

/* Checks every string of a JSON text that has parsed: valid UTF-8, and no
 * "\u0000" (cJSON would end the string there, silently). Returns 0, or -1
 * with the field in field[] and what is wrong in *what. */
static int json_check_strings(const char *s, size_t n, int max_depth, char *field, size_t fn,
                              const char **what)
{
    jframe *f = rag_xcalloc((size_t)max_depth + 1, sizeof *f);
    int depth = 0, rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char c = s[i];
        jframe *top = depth ? &f[depth - 1] : NULL;
        if (c == '{' || c == '[') {
            if (depth > max_depth) break; /* cannot be: the depth was checked */
            f[depth++] = (jframe){.kind = c, .expect_key = c == '{'};
        } else if (c == '}' || c == ']') {
            if (depth) depth--;
        } else if (c == ',' && top) {
            if (top->kind == '[')
                top->index++;
            else
                top->expect_key = 1, top->key = NULL;
        } else if (c == '"') {
            size_t start = ++i;
            int bad = 0;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\') {
                    if (i + 5 < n && s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4)) bad = 2;
                    i += 2;
                } else {
                    i++;
                }
            }
            if (!bad && !utf8_valid(s + start, i - start)) bad = 1;
            int is_key = top && top->kind == '{' && top->expect_key;
            if (bad) {
                json_path(f, depth, field, fn); /* a key: where its object is */
                if (is_key) {
                    size_t l = strlen(field);
                    snprintf(field + l, fn - l, "%s(a key)", l ? " " : "");
                }
                *what = bad == 1 ? "is not valid UTF-8" : "holds a NUL character (\\u0000)";
                rc = -1;
            } else if (is_key) {
                top->key = s + start;
                top->key_len = i - start;
                top->expect_key = 0;
            }
        }
    }
    rag_free(f);
    return rc;
}

typedef struct head_check {
    const char *next; /* where the next header line should start (see check_header) */
    int hidden;       /* bytes between lines that are not their CR LF */
    int n_length, n_encoding;
    const char *length, *encoding;
    const char *bad_name; /* a header or argument that holds a NUL byte or bad UTF-8 */
    const char *bad_what;
} head_check;

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    head_check *h = cls;
    if (h->next && key != h->next) h->hidden = 1;
    h->next = value ? value + value_size + 2 : NULL;
    if (h->next && (h->next[-2] || h->next[-1])) h->hidden = 1;
    if (!strcasecmp(key, "Content-Length")) h->n_length++, h->length = value;
    if (!strcasecmp(key, "Transfer-Encoding")) h->n_encoding++, h->encoding = value;
    if (!h->bad_name && ((value && memchr(value, 0, value_size)) || memchr(key, 0, key_size))) {
        h->bad_name = key;
        h->bad_what = "holds a NUL byte";
    }
    return MHD_YES;
}

/* Whether the request line and headers hold bytes that libmicrohttpd
 * (0.9.75) does not show: it ends a header's value at a NUL byte, so that
 * "Bearer KEY<NUL>junk" would pass as the key. It parses the lines where
 * they lie, each line's CR LF made two NUL bytes, so each line must end
 * exactly where the next begins, two bytes after the value shown; lines
 * that end in a bare LF are refused too (that makes the check exact), and
 * so are folded header lines (libmicrohttpd joins them elsewhere).
 * Returns 0 when nothing is hidden. */
static int hidden_bytes(struct MHD_Connection *conn, const char *method, const char *version,
                        head_check *h)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!ci || !ci->header_size) return 0;
    const char *end = method + ci->header_size; /* the request starts at its method */
    if (!*version || version <= method || version >= end)
        return 1; /* no version: HTTP/0.9, or cut at a NUL */
    h->next = version + strlen(version) + 2;
    if (h->next > end || h->next[-2] || h->next[-1]) return 1;
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, check_header, h);
    /* the last line, then the empty one */
    return h->hidden || h->next + 2 != end || h->next[0] || h->next[1];
}

static enum MHD_Result check_argument(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    head_check *h = cls;
    if (h->bad_name) return MHD_YES;
    if (memchr(key, 0, key_size) || !utf8_valid(key, key_size)) {
        h->bad_name = "?";
        h->bad_what = "has a name that is not valid UTF-8 or holds a NUL byte";
    } else if (value && memchr(value, 0, value_size)) {
        h->bad_name = key;
        h->bad_what = "holds a NUL byte";
    } else if (value && !utf8_valid(value, value_size)) {
        h->bad_name = key;
        h->bad_what = "is not valid UTF-8";
    }
    return MHD_YES;
}

static int load_keys(ragd_server *s, size_t *n, rag_err *err);

static int authenticate(ragd_server *s, reqctx *x)
{
    const char *h = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    const char *key = h + 7;
    while (*key == ' ')
        key++;
    size_t len = strlen(key);
    while (len && key[len - 1] == ' ')
        len--;
    if (!len || len > 256) return 0;
    ragd_replica_status rs;
    if (ragd_engine_cluster_status(s->engine, &rs) &&
        rs.keys_version != __atomic_load_n(&s->keys_version, __ATOMIC_ACQUIRE)) {
        /* the cluster's keys changed (one added or revoked on any node) */
        rag_err kerr = {0};
        if (load_keys(s, NULL, &kerr))
            rag_log_warn("ragd: reloading the keys: %s", kerr.msg);
        else
            __atomic_store_n(&s->keys_version, rs.keys_version, __ATOMIC_RELEASE);
    }
    pthread_mutex_lock(&s->keys_mu);
    int ok = rag_keyring_check(s->keys, key, len, &x->req.who, &x->req.perms, x->req.key_name,
                               sizeof x->req.key_name);
    pthread_mutex_unlock(&s->keys_mu);
    if (ok) conn_due(s, x->conn, x->req.deadline, 1);
    return ok;
}

static int permitted(const reqctx *x)
{
    int need = x->rt->perm == PERM_METRICS ? STORE_PERM_ADMIN : x->rt->perm;
    return (x->req.perms & STORE_PERM_ADMIN) || (x->req.perms & need) == need;
}

static void set_request_id(ragd_server *s, reqctx *x)
{
    const char *given = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = given ? strlen(given) : 0;
    int ok = n > 0 && n < sizeof x->id;
    for (size_t i = 0; ok && i < n; i++) {
        char c = given[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_' || c == '.';
    }
    if (ok) {
        memcpy(x->id, given, n + 1);
        return;
    }
    pthread_mutex_lock(&s->mu);
    unsigned long long id = ++s->next_id;
    pthread_mutex_unlock(&s->mu);
    snprintf(x->id, sizeof x->id, "req-%s-%llx", s->id_prefix, id);
}

/* The first call for a request: everything that can be decided from the
 * request line and headers. Returns 1 when a response was queued. */
static int begin_request(ragd_server *s, reqctx *x, const char *url, const char *method,
                         const char *version)
{
    /* How the body is framed must be beyond doubt: a proxy in front that
     * reads it otherwise would pass a second request hidden in the body. */
    head_check h = {0};
    int hidden = hidden_bytes(x->conn, method, version, &h);
    const char *framing = NULL;
    if (hidden)
        framing = "a NUL byte, a line not ended by CR LF or a folded line in its head";
    else if (h.n_length > 1)
        framing = "more than one Content-Length header";
    else if (h.n_length && (!*h.length || strspn(h.length, "0123456789") != strlen(h.length)))
        framing = "a Content-Length that is not a number";
    else if (h.n_encoding && h.n_length)
        framing = "both Content-Length and Transfer-Encoding";
    else if (h.n_encoding > 1 || (h.n_encoding && strcasecmp(h.encoding, "chunked")))
        framing = "a Transfer-Encoding other than chunked";
    if (framing || h.bad_name) {
        x->close = 1; /* where the next request would start is unknown */
        ragd_response resp = {0};
        const char *name =
            h.bad_name && utf8_valid(h.bad_name, strlen(h.bad_name)) ? h.bad_name : "?";
        if (framing)
            ragd_error(&resp, 400, NULL, "the request has %s", framing);
        else
            ragd_error(&resp, 400, name, "the header %s %s", name, h.bad_what);
        respond(s, x, &resp);
        return 1;
    }
    x->chunked = h.n_encoding == 1;
    /* what could be echoed in an answer is valid UTF-8 without NUL bytes */
    head_check a = {0};
    MHD_get_connection_values_n(x->conn, MHD_GET_ARGUMENT_KIND, check_argument, &a);
    if (!utf8_valid(url, strlen(url)) || a.bad_name) {
        ragd_response resp = {0};
        if (a.bad_name)
            ragd_error(&resp, 400, a.bad_name, "the query argument '%s' %s", a.bad_name,
                       a.bad_what);
        else
            ragd_error(&resp, 400, NULL, "the path is not valid UTF-8");
        respond(s, x, &resp);
        return 1;
    }
    char allow[64];
    int status = find_route(method, url, &x->rt, &x->path_id, allow);
    if (status == 404) {
        respond_error(s, x, 404, "no such route: %s %s", method, url);
        return 1;
    }
    if (status == 405) {
        ragd_response resp = {0};
        ragd_error(&resp, 405, NULL, "%s is not allowed on %s (allowed: %s)", method, url, allow);
        resp.allow = allow;
        respond(s, x, &resp);
        return 1;
    }
    x->req.route = x->rt->name;
    x->req.path_id = x->path_id;
    int need_key =
        x->rt->perm != PERM_PUBLIC && !(x->rt->perm == PERM_METRICS && s->p.public_metrics);
    if (need_key && !authenticate(s, x)) {
        respond_error(s, x, 401,
                      "a valid API key is needed: send 'Authorization: Bearer KEY' (keys are made "
                      "with 'rag keys add')");
        return 1;
    }
    if (need_key && !permitted(x)) {
        respond_error(s, x, 403, "the key '%s' may not use %s %s", x->req.key_name, method,
                      x->rt->name);
        return 1;
    }
    size_t limit = x->rt->body == BODY_UPLOAD ? s->p.max_upload
                   : x->rt->body == BODY_JSON ? s->p.max_body
                                              : 0;
    const char *cl = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (limit && end != cl && !*end && n > limit && n - limit <= DRAIN_CAP) {
            x->over_limit = 1; /* answered once the body has been read */
        } else if (end == cl || *end || n > limit) {
            if (limit)
                respond_error(s, x, 413,
                              "the body (%s bytes) is larger than the %zu bytes %s accepts", cl,
                              limit, x->rt->name);
            else
                respond_error(s, x, 413, "%s %s takes no body", method, x->rt->name);
            return 1;
        }
    }
    return 0;
}

/* The body is complete: parse it and run the handler. */
static enum MHD_Result run_handler(ragd_server *s, reqctx *x)
{
    ragd_request *req = &x->req;
    conn_due(s, x->conn, 0, 0); /* the body has come: the handler keeps its own time */
    req->body = x->body.data ? x->body.data : "";
    req->body_len = x->body.len;
    req->content_type = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "Content-Type");
    int form = req->content_type &&
               (!strncasecmp(req->content_type, "multipart/form-data", 19) ||
                !strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33));
    /* JSON whatever the content type says (curl -d sends it as a form),
     * except that an upload may really be a form */
    if (x->rt->body == BODY_JSON ||
        (x->rt->body == BODY_UPLOAD && (!form || (x->body.len && x->body.data[0] == '{')))) {
        if (!x->body.len) return respond_error(s, x, 400, "%s needs a JSON body", x->rt->name);
        if (memchr(req->body, 0, req->body_len))
            return respond_error(
                s, x, 400, "the body is not valid JSON (a NUL byte at %zu)",
                (size_t)((const char *)memchr(req->body, 0, req->body_len) - req->body));
        int depth = json_depth(req->body, req->body_len, s->p.max_json_depth);
        if (depth > s->p.max_json_depth)
            return respond_error(s, x, 400, "the JSON body is nested deeper than %d levels",
                                 s->p.max_json_depth);
        const char *end = NULL;
        /* the length counts the NUL: cJSON then insists nothing follows the value */
        req->json = cJSON_ParseWithLengthOpts(req->body, req->body_len + 1, &end, 1);
        if (!req->json) {
            size_t at = end && end >= req->body ? (size_t)(end - req->body) : 0;
            return respond_error(s, x, 400, "the body is not valid JSON (at byte %zu)", at);
        }
        if (!cJSON_IsObject(req->json))
            return respond_error(s, x, 400, "the JSON body must be an object");
        char field[160];
        const char *what = NULL;
        if (json_check_strings(req->body, req->body_len, s->p.max_json_depth, field, sizeof field,
                               &what)) {
            ragd_response resp = {0};
            if (field[0])
                ragd_error(&resp, 400, field, "the field '%s' %s", field, what);
            else
                ragd_error(&resp, 400, NULL, "a string of the body %s", what);
            return respond(s, x, &resp);
        }
    }
    ragd_response resp = {.status = 200};
    x->rt->handler(req, &resp);
    return respond(s, x, &resp);
}

/* Writes all of data to the client's socket (bounded in time). */
static int send_all(int fd, const char *data, size_t len, double deadline)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n, len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
        double left = deadline - rag_now_s();
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (left <= 0 || poll(&pf, 1, (int)(left * 1e3) + 1) < 0) return -1;
    }
    return 0;
}

/* A chunked body past the limit. libmicrohttpd cannot answer before such
 * a body ends (it drops the rest without finding the end, and waits), so
 * the 413 is written here at once, the sending side shut, what the client
 * still sends read and dropped for a moment (closing on unread data would
 * reset the connection, and the client would never see the answer), and
 * the connection closed. */
static enum MHD_Result refuse_chunked(ragd_server *s, reqctx *x, size_t limit)
{
    (void)s;
    ragd_response resp = {0};
    ragd_error(&resp, 413, NULL, "the body is larger than the %zu bytes %s accepts", limit,
               x->rt ? x->rt->name : x->path);
    char *text = cJSON_PrintUnformatted(resp.json);
    cJSON_Delete(resp.json);
    char head[512];
    int hn = snprintf(
        head, sizeof head,
        "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Type: application/json\r\n"
        "X-Request-Id: %s\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
        "Content-Length: %zu\r\n\r\n",
        x->id, strlen(text) + 1);
    double deadline = rag_now_s() + 2;
    if (!send_all(x->fd, head, (size_t)hn, deadline) &&
        !send_all(x->fd, text, strlen(text), deadline))
        send_all(x->fd, "\n", 1, deadline);
    cJSON_free(text);
    x->status = 413;
    x->responded = 1;
    shutdown(x->fd, SHUT_WR);
    char scratch[16384];
    size_t dropped = 0;
    while (dropped < DRAIN_CAP) {
        double left = deadline - rag_now_s();
        struct pollfd pf = {.fd = x->fd, .events = POLLIN};
        if (left <= 0 || poll(&pf, 1, (int)(left * 1e3) + 1) <= 0) break;
        ssize_t n = recv(x->fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
        if (n > 0) dropped += (size_t)n;
    }
    return MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    ragd_server *s = cls;
    reqctx *x = *con_cls;
    if (!x) {
        x = rag_xcalloc(1, sizeof *x);
        *con_cls = x;
        x->conn = conn;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        x->fd = ci ? ci->connect_fd : -1;
        x->path = rag_xstrdup(url);
        x->req.method = method;
        x->req.path = x->path;
        x->req.id = x->id;
        x->req.srv = s;
        x->req.engine = s->engine;
        x->req.meter = s->meter;
        x->req.params = &s->p;
        x->req.conn = x;
        x->req.started = rag_now_s();
        x->req.deadline = x->req.started + s->p.request_timeout;
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        set_request_id(s, x);
        conn_due(s, conn, x->req.deadline, 0); /* the head has come; the body is due */
        begin_request(s, x, url, method, version);
        return MHD_YES;
    }
    size_t limit = x->rt && x->rt->body == BODY_UPLOAD ? s->p.max_upload : s->p.max_body;
    if (*upload_size) {
        if (!x->responded && x->chunked && x->body.len + *upload_size > limit) {
            *upload_size = 0;
            return refuse_chunked(s, x, limit);
        }
        if (!x->responded && (x->over_limit || x->body.len + *upload_size > limit)) {
            x->over_limit += *upload_size;
            if (x->over_limit > DRAIN_CAP)
                respond_error(s, x, 413, "the body is larger than the %zu bytes %s accepts", limit,
                              x->rt ? x->rt->name : x->path);
        } else if (!x->responded) {
            rag_buf_append(&x->body, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (x->responded) return MHD_YES;
    if (x->over_limit)
        return respond_error(s, x, 413, "the body is larger than the %zu bytes %s accepts", limit,
                             x->rt ? x->rt->name : x->path);
    return run_handler(s, x);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    rag_log_info("http: %s", msg);
}

/* ---- the address ------------------------------------------------------------------ */

static int parse_listen(const char *listen, struct sockaddr_storage *sa, socklen_t *len, int *v6,
                        rag_err *err)
{
    char host[256];
    const char *port;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof host)
            return rag_err_set(err, RAG_ERR_INVALID, "listen address '%s': expected [IPV6]:PORT",
                               listen);
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = 0;
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
            return rag_err_set(err, RAG_ERR_INVALID, "listen address '%s': expected HOST:PORT",
                               listen);
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = 0;
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (end == port || *end || p < 0 || p > 65535)
        return rag_err_set(err, RAG_ERR_INVALID, "listen address '%s': '%s' is not a port", listen,
                           port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g)
        return rag_err_set(err, RAG_ERR_INVALID, "listen address '%s': %s", listen,
                           gai_strerror(g));
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    return 0;
}

/* ---- lifecycle --------------------------------------------------------------------- */

static int load_keys(ragd_server *s, size_t *n, rag_err *err)
{
    store *st = ragd_engine_store_get(s->engine);
    rag_keyring *kr;
    int rc = rag_keyring_load(st, &kr, err);
    ragd_engine_store_put(s->engine, st);
    if (rc) return rc;
    pthread_mutex_lock(&s->keys_mu);
    rag_keyring *old = s->keys;
    s->keys = kr;
    pthread_mutex_unlock(&s->keys_mu);
    rag_keyring_free(old);
    if (n) *n = rag_keyring_size(kr);
    return 0;
}

int ragd_server_reload_keys(ragd_server *s, size_t *n, rag_err *err)
{
    return load_keys(s, n, err);
}

int ragd_server_start(const ragd_server_params *p, ragd_engine *e, ragd_meter *m, ragd_server **out,
                      char bound[64], rag_err *err)
{
    *out = NULL;
    ragd_server *s = rag_xcalloc(1, sizeof *s);
    s->p = *p;
    s->engine = e;
    s->meter = m;
    pthread_mutex_init(&s->keys_mu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    unsigned char r[4] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) memset(r, 0, sizeof r);
    snprintf(s->id_prefix, sizeof s->id_prefix, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    size_t n_keys = 0;
    int rc = load_keys(s, &n_keys, err);
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    int v6 = 0;
    if (!rc) rc = parse_listen(p->listen, &sa, &salen, &v6, err);
    if (!rc) {
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
                         MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
        /* headers share the connection's memory pool with the read buffer */
        size_t pool = p->max_header + 16 * 1024;
        /* clang-format off */
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                /* room for those closed by conn_admit until they are gone */
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)(p->max_connections + p->max_connections / 2 + 16),
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)p->idle_timeout,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                                MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
                                MHD_OPTION_NOTIFY_CONNECTION, connection_notify, s,
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                                MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
                                MHD_OPTION_END);
        /* clang-format on */
        if (!s->d)
            rc = rag_err_set(err, RAG_ERR_IO,
                             "cannot listen on %s (in use, or not an address of this machine?)",
                             p->listen);
    }
    if (rc) {
        rag_keyring_free(s->keys);
        rag_free(s);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    s->watching = !pthread_create(&s->watchdog, NULL, watchdog_main, s);
    pthread_mutex_unlock(&s->mu);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : 0;
    char host[INET6_ADDRSTRLEN] = "?";
    if (v6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, host, sizeof host);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host, sizeof host);
    snprintf(bound, 64, v6 ? "[%s]:%u" : "%s:%u", host, port);
    if (!n_keys)
        rag_log_warn("no API keys in the database: every API request will be refused (add one with "
                     "'rag keys add NAME --roles ROLE')");
    *out = s;
    return 0;
}

int ragd_server_active(ragd_server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->active;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void ragd_server_hold(ragd_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->active++;
    pthread_mutex_unlock(&s->mu);
}

void ragd_server_release(ragd_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits until nothing is in flight, or until the deadline; returns what is left. */
static int wait_idle(ragd_server *s, double deadline)
{
    pthread_mutex_lock(&s->mu);
    while (s->active > 0 && rag_now_s() < deadline) {
        struct timespec ts = ragd_wake_time(0.1);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int left = s->active;
    pthread_mutex_unlock(&s->mu);
    return left;
}

void ragd_server_stop(ragd_server *s)
{
    if (!s) return;
    MHD_socket lfd = MHD_quiesce_daemon(s->d);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    ragd_engine_stop_accepting(s->engine);
    int left = wait_idle(s, rag_now_s() + s->p.shutdown_grace);
    if (left) {
        rag_log_warn("shutdown: %d request%s still in flight after %d s: cancelling", left,
                     left > 1 ? "s" : "", s->p.shutdown_grace);
        s->hurry = 1;
        left = wait_idle(s, rag_now_s() + 10);
        if (left) rag_log_warn("shutdown: %d request%s did not stop", left, left > 1 ? "s" : "");
    }
    s->hurry = 1;
    pthread_mutex_lock(&s->mu);
    s->watch_stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->watching) pthread_join(s->watchdog, NULL);
    MHD_stop_daemon(s->d);
    while (s->first) {
        conn_slot *c = s->first;
        conn_unlink(s, c);
        rag_free(c);
    }
    rag_keyring_free(s->keys);
    pthread_mutex_destroy(&s->keys_mu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    rag_free(s);
}

void ragd_server_gauges(ragd_server *s, ragd_meter_gauges *g)
{
    pthread_mutex_lock(&s->mu);
    g->connections = s->connections;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->keys_mu);
    g->api_keys = (long long)rag_keyring_size(s->keys);
    pthread_mutex_unlock(&s->keys_mu);
}
