/* net/fetch.c: one HTTP request through libcurl (see net/net.h).
 *
 * An attempt is retried (when the request allows) after a 429 or 5xx
 * answer, a failed connection or a timeout, but never once body bytes
 * have been handed to the caller: a partial body is the caller's to resume.
 * The wait doubles from retry_delay, or is what Retry-After says (at most
 * 30 s). */
#include "net/net.h"
#include "base/mem.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum { ERROR_BODY_MAX = 4096 };

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void net_request_init(net_request *rq, const char *url)
{
    memset(rq, 0, sizeof *rq);
    rq->url = url;
    rq->max_redirects = 5;
    rq->connect_timeout = 10;
    rq->retry_delay = 0.5;
    rq->what = "server";
}

void net_response_free(net_response *r)
{
    rag_free(r->content_type);
    rag_free(r->effective_url);
    rag_free(r->etag);
    rag_free(r->linked_etag);
    rag_buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

/* State of one attempt. */
typedef struct attempt {
    const net_request *rq;
    net_response *resp;
    CURL *curl;
    int delivered; /* body bytes went to on_body */
    int stopped;   /* on_body or on_progress said stop */
    int over_limit;
    char refused[256]; /* why the policy refused an address */
} attempt;

static char *header_value(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) || line[k] != ':') return NULL;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if (end - v >= 2 && *v == '"' && end[-1] == '"') v++, end--; /* ETag quotes */
    if (end - v > 2 && !strncmp(v, "W/\"", 3)) v += 3;           /* weak ETag */
    return rag_xstrndup(v, (size_t)(end - v));
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *p)
{
    attempt *a = p;
    net_response *r = a->resp;
    size_t n = size * nmemb;
    char *v;
    if (n >= 5 && !strncmp(data, "HTTP/", 5)) { /* a new response (after a redirect or 100) */
        rag_free(r->etag), r->etag = NULL;
        rag_free(r->linked_etag), r->linked_etag = NULL;
        r->linked_size = r->content_length = 0;
        r->range_start = -1;
        r->retry_after = 0;
    } else if ((v = header_value(data, n, "ETag"))) {
        rag_free(r->etag), r->etag = v;
    } else if ((v = header_value(data, n, "X-Linked-Etag"))) {
        rag_free(r->linked_etag), r->linked_etag = v;
    } else if ((v = header_value(data, n, "X-Linked-Size"))) {
        r->linked_size = strtoull(v, NULL, 10), rag_free(v);
    } else if ((v = header_value(data, n, "Content-Length"))) {
        r->content_length = strtoull(v, NULL, 10), rag_free(v);
    } else if ((v = header_value(data, n, "Content-Range"))) {
        if (!strncasecmp(v, "bytes ", 6) && isdigit((unsigned char)v[6]))
            r->range_start = strtoll(v + 6, NULL, 10);
        rag_free(v);
    } else if ((v = header_value(data, n, "Retry-After"))) {
        double s = strtod(v, NULL);
        r->retry_after = s > 0 && s < 3600 ? s : 0;
        rag_free(v);
    }
    return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *p)
{
    attempt *a = p;
    net_response *r = a->resp;
    size_t n = size * nmemb;
    if (!r->status) curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->status < 200 || r->status > 299) { /* keep the start of an error body */
        if (r->body.len < ERROR_BODY_MAX)
            rag_buf_append(&r->body, data,
                           n < ERROR_BODY_MAX - r->body.len ? n : ERROR_BODY_MAX - r->body.len);
        return n;
    }
    if (a->rq->max_bytes && r->bytes + n > a->rq->max_bytes) {
        a->over_limit = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    r->bytes += n;
    if (!a->rq->on_body) {
        rag_buf_append(&r->body, data, n);
        return n;
    }
    if (!r->content_type) {
        char *ct = NULL;
        curl_easy_getinfo(a->curl, CURLINFO_CONTENT_TYPE, &ct);
        if (ct) r->content_type = rag_xstrdup(ct);
    }
    a->delivered = 1;
    if (a->rq->on_body(a->rq->body_ctx, r, data, n)) {
        a->stopped = 1;
        return 0;
    }
    return n;
}

/* Also while no response has come (status 0), so that a caller can stop a
 * request to a server that is silent; not over an error response's body. */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    attempt *a = p;
    (void)ultotal, (void)ulnow;
    long st = a->resp->status;
    if (!a->rq->on_progress || (st != 0 && (st < 200 || st > 299))) return 0;
    if (a->rq->on_progress(a->rq->progress_ctx, (uint64_t)dlnow, (uint64_t)dltotal)) {
        a->stopped = 1;
        return 1;
    }
    return 0;
}

/* Every connection curl makes, to the first host and after each redirect,
 * comes through here with the resolved address: the policy decides. */
static curl_socket_t open_socket(void *p, curlsocktype purpose, struct curl_sockaddr *addr)
{
    attempt *a = p;
    (void)purpose;
    int rc = net_policy_check(a->rq->policy, &addr->addr, a->refused, sizeof a->refused);
    if (rc) return CURL_SOCKET_BAD;
    return socket(addr->family, addr->socktype, addr->protocol);
}

static void configure(attempt *a, struct curl_slist **hdrs, char *range, size_t range_len)
{
    const net_request *rq = a->rq;
    CURL *c = a->curl;
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_USERAGENT, NET_USER_AGENT);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, rq->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)rq->max_redirects);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(rq->connect_timeout * 1000));
    if (rq->timeout > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(rq->timeout * 1000));
    if (rq->stall_timeout > 0) {
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)ceil(rq->stall_timeout));
    }
    if (rq->max_bytes) curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_bytes);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (rq->policy) {
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, a);
        curl_easy_setopt(c, CURLOPT_PROXY,
                         ""); /* connect directly: the address checked is the peer's */
    }
    if (rq->range_from) {
        snprintf(range, range_len, "%llu-", (unsigned long long)rq->range_from);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    for (const char *const *h = rq->headers; h && *h; h++)
        *hdrs = curl_slist_append(*hdrs, *h);
    if (rq->bearer) {
        char *auth = rag_xasprintf("Authorization: Bearer %s", rq->bearer);
        *hdrs = curl_slist_append(*hdrs, auth);
        rag_free(auth);
    }
    if (rq->body) {
        char *ct = rag_xasprintf("Content-Type: %s",
                                 rq->content_type ? rq->content_type : "application/json");
        *hdrs = curl_slist_append(*hdrs, ct);
        rag_free(ct);
        *hdrs = curl_slist_append(*hdrs, "Expect:"); /* no 100-continue round trip */
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
    if (rq->method) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (*hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
}

static const char *status_text(long s)
{
    switch (s) {
    case 400:
        return " Bad Request";
    case 401:
        return " Unauthorized";
    case 403:
        return " Forbidden";
    case 404:
        return " Not Found";
    case 408:
        return " Request Timeout";
    case 410:
        return " Gone";
    case 413:
        return " Payload Too Large";
    case 416:
        return " Range Not Satisfiable";
    case 429:
        return " Too Many Requests";
    case 500:
        return " Internal Server Error";
    case 502:
        return " Bad Gateway";
    case 503:
        return " Service Unavailable";
    case 504:
        return " Gateway Timeout";
    default:
        return "";
    }
}

/* The message of a non-2xx body: an OpenAI-style {"error":{"message"}} or
 * the first line of text, shortened. */
static void body_hint(const rag_buf *b, char *out, size_t n)
{
    out[0] = 0;
    if (!b->len) return;
    const char *s = b->data, *end = b->data + b->len;
    const char *m = memmem(s, b->len, "\"message\"", 9);
    if (m) {
        const char *q = memchr(m + 9, '"', (size_t)(end - m - 9));
        if (q) s = q + 1;
    }
    size_t k = 0;
    for (; s < end && k + 1 < n && *s != '\n' && !(m && *s == '"'); s++)
        out[k++] = isprint((unsigned char)*s) ? *s : ' ';
    out[k] = 0;
}

/* Judges a finished attempt: 0, or an error code with the message set.
 * *retry says whether another attempt may help. Messages show the URLs
 * without their userinfo (eu: the effective URL, ru: the one asked). */
static int judge_urls(attempt *a, CURLcode cc, const char *eu, const char *ru, rag_err *err,
                      int *retry)
{
    const net_request *rq = a->rq;
    net_response *r = a->resp;
    *retry = 0;
    curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &r->status);
    const char *what = rq->what ? rq->what : "server";
    if (a->refused[0])
        return rag_err_set(err, RAG_ERR_DENIED, "%s %s: refused: %s", what, eu, a->refused);
    if (a->stopped) return rag_err_set(err, RAG_ERR_INTERRUPTED, "%s %s: stopped", what, ru);
    if (a->over_limit || cc == CURLE_FILESIZE_EXCEEDED)
        return rag_err_set(err, RAG_ERR_LIMIT, "%s %s: larger than the %llu bytes allowed", what,
                           eu, (unsigned long long)rq->max_bytes);
    if (cc != CURLE_OK) {
        r->transient =
            (cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
             cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
             cc == CURLE_PARTIAL_FILE || cc == CURLE_COULDNT_RESOLVE_HOST);
        *retry = !a->delivered && r->transient;
        if (cc == CURLE_OPERATION_TIMEDOUT)
            return rag_err_set(err, RAG_ERR_NET, "%s %s: timed out (%s)", what, eu,
                               rq->timeout > 0 ? "the request's time limit"
                                               : "no data for too long");
        if (cc == CURLE_TOO_MANY_REDIRECTS)
            return rag_err_set(err, RAG_ERR_NET, "%s %s: more than %d redirects", what, ru,
                               rq->max_redirects);
        if (cc == CURLE_UNSUPPORTED_PROTOCOL)
            return rag_err_set(err, RAG_ERR_DENIED, "%s %s: only http and https URLs are fetched",
                               what, eu);
        return rag_err_set(err, RAG_ERR_NET, "%s %s: %s", what, eu, curl_easy_strerror(cc));
    }
    if (r->status >= 200 && r->status <= 299) return 0;
    char hint[160];
    body_hint(&r->body, hint, sizeof hint);
    *retry = r->transient = r->status == 429 || r->status == 408 || r->status >= 500;
    int code = r->status == 404 || r->status == 410   ? RAG_ERR_NOTFOUND
               : r->status == 401 || r->status == 403 ? RAG_ERR_DENIED
                                                      : RAG_ERR_NET;
    return rag_err_set(err, code, "%s %s: HTTP %ld%s%s%s", what, eu, r->status,
                       status_text(r->status), hint[0] ? ": " : "", hint);
}

static int judge(attempt *a, CURLcode cc, rag_err *err, int *retry)
{
    net_response *r = a->resp;
    char *eff = NULL;
    curl_easy_getinfo(a->curl, CURLINFO_EFFECTIVE_URL, &eff);
    rag_free(r->effective_url);
    r->effective_url = rag_xstrdup(eff ? eff : a->rq->url);
    if (!r->content_type) {
        char *ct = NULL;
        curl_easy_getinfo(a->curl, CURLINFO_CONTENT_TYPE, &ct);
        if (ct) r->content_type = rag_xstrdup(ct);
    }
    r->transient = 0;
    char *eu = net_url_public(r->effective_url), *ru = net_url_public(a->rq->url);
    int rc = judge_urls(a, cc, eu, ru, err, retry);
    rag_free(eu);
    rag_free(ru);
    return rc;
}

/* Sleeps w seconds before a retry, asking on_progress every tenth of a
 * second whether to stop instead (1: stopped). */
static int wait_between_attempts(const net_request *rq, double w)
{
    for (double left = w; left > 0; left -= 0.1) {
        if (rq->on_progress && rq->on_progress(rq->progress_ctx, 0, 0)) return 1;
        double step = left < 0.1 ? left : 0.1;
        struct timespec ts = {0, (long)(step * 1e9)};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int net_fetch(const net_request *rq, net_response *resp, rag_err *err)
{
    pthread_once(&curl_once, curl_init);
    memset(resp, 0, sizeof *resp);
    resp->range_start = -1;
    if (rq->policy && rq->policy->allow && net_allow_list_check(rq->policy->allow, err))
        return RAG_ERR_INVALID;
    int rc = 0;
    double wait = rq->retry_delay > 0 ? rq->retry_delay : 0.5;
    for (int i = 0; i <= rq->retries; i++) {
        if (i) {
            double w =
                resp->retry_after > 0 ? (resp->retry_after < 30 ? resp->retry_after : 30) : wait;
            if (wait_between_attempts(rq, w)) {
                char *ru = net_url_public(rq->url);
                rc = rag_err_set(err, RAG_ERR_INTERRUPTED, "%s %s: stopped",
                                 rq->what ? rq->what : "server", ru);
                rag_free(ru);
                resp->transient = 0;
                return rc;
            }
            wait *= 2;
            char *url = resp->effective_url;
            resp->effective_url = NULL;
            net_response_free(resp);
            rag_free(url);
            resp->range_start = -1;
        }
        resp->attempts = i + 1;
        attempt a = {.rq = rq, .resp = resp, .curl = curl_easy_init()};
        if (!a.curl) return rag_err_set(err, RAG_ERR_NOMEM, "cannot start a transfer (curl)");
        struct curl_slist *hdrs = NULL;
        char range[32];
        configure(&a, &hdrs, range, sizeof range);
        CURLcode cc = curl_easy_perform(a.curl);
        int retry;
        rc = judge(&a, cc, err, &retry);
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(a.curl);
        if (!rc || !retry) break;
    }
    size_t len = rc && err ? strlen(err->msg) : 0;
    if (rc && err && resp->attempts > 1 && len + 24 < sizeof err->msg)
        snprintf(err->msg + len, sizeof err->msg - len, " (after %d attempts)",
                 resp->attempts % 1000);
    return rc;
}
