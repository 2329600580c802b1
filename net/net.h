/* net/net.h: HTTP(S) through libcurl, the one door to the network: model
 * downloads (`rag pull`), remote OpenAI-compatible model servers, and
 * fetching documents by URL.
 *
 * One call, net_fetch, makes one request with bounded everything: bytes,
 * time (connect, total, and stalls), redirects (http and https only), and
 * retries with backoff on 429, 5xx and failed connections. A 2xx body goes
 * to a callback as it arrives (or into the response); any other status
 * keeps the first 4 KB of its body for the error message.
 *
 * Address policy. URLs that come from users (documents to ingest, the
 * upload API) must not reach the internal network: with a policy, every
 * connection curl opens, to the first host and to every redirect target,
 * after DNS resolution, is checked against it, and private, loopback,
 * link-local, multicast and reserved addresses are refused unless allowed.
 * Checking the resolved address at connect time also defeats DNS rebinding.
 * Under a policy, proxies from the environment are not used (the address
 * checked would be the proxy's). Operator-given URLs (model downloads,
 * configured backends) are fetched without a policy.
 *
 * Messages never show the userinfo (user:password@) of a URL. */
#ifndef RAG_NET_NET_H
#define RAG_NET_NET_H

#include "base/buf.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Which addresses a policy lets through. */
typedef struct net_policy {
    int allow_private; /* every address (net.allow_private, --allow-private) */
    const char *allow; /* else these, although private: comma-separated
                          addresses or CIDR blocks ("127.0.0.1,10.1.0.0/16") */
} net_policy;

typedef struct net_response net_response;

/* Receives a 2xx body as it arrives; non-zero stops the transfer
 * (RAG_ERR_INTERRUPTED). resp->status and headers are already set. */
typedef int (*net_body_fn)(void *ctx, const net_response *resp, const char *data, size_t len);
/* Progress of the body: bytes so far and expected (0 when unknown);
 * non-zero cancels (RAG_ERR_INTERRUPTED). Called often (curl: about once a
 * second at least) from the start of the request, also while the server has
 * not answered and between retries (0, 0), but not over an error
 * response. */
typedef int (*net_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct net_request {
    const char *url;
    const char *method; /* NULL: GET, or POST with a body */
    const char *body;   /* borrowed */
    size_t body_len;
    const char *content_type;   /* of the body (default application/json) */
    const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
    const char *bearer;         /* Authorization: Bearer (never in messages) */
    uint64_t range_from;        /* > 0: ask for the bytes from here on */
    uint64_t max_bytes;         /* body limit (0: none): RAG_ERR_LIMIT past it */
    int max_redirects;          /* default 5 */
    double connect_timeout;     /* seconds; default 10 */
    double timeout;             /* whole transfer; 0: none */
    double stall_timeout;       /* no byte for this long fails it; 0: none */
    int retries;                /* extra attempts (429, 5xx, connection, timeout) */
    double retry_delay;         /* the first wait, doubled each time (default 0.5 s) */
    const net_policy *policy;   /* NULL: no address checks (trusted URLs) */
    net_body_fn on_body;        /* NULL: the body is kept in resp->body */
    void *body_ctx;
    net_progress_fn on_progress; /* may be NULL */
    void *progress_ctx;
    const char *what; /* names the peer in messages ("download") */
} net_request;

void net_request_init(net_request *rq, const char *url);

struct net_response {
    long status;             /* the final response's HTTP status (0: none) */
    char *content_type;      /* owned; NULL when not sent */
    char *effective_url;     /* owned; the URL after redirects */
    char *etag;              /* owned; ETag, quotes removed */
    char *linked_etag;       /* owned; X-Linked-Etag (Hugging Face: the file's SHA-256) */
    uint64_t linked_size;    /* X-Linked-Size, 0 when absent */
    uint64_t content_length; /* of this response's body, 0 when unknown */
    int64_t range_start;     /* from Content-Range on a 206, else -1 */
    double retry_after;      /* seconds, from Retry-After (0: none) */
    uint64_t bytes;          /* body bytes received in the final attempt */
    int attempts;
    int transient; /* the failure may pass on another try or server: the connection
                      failed or broke, a timeout, or a 408, 429 or 5xx answer */
    rag_buf body;  /* without on_body: the 2xx body; always: the
                      start of a non-2xx body */
};

/* Makes the request. 0 for a 2xx answer; otherwise RAG_ERR_NOTFOUND (404,
 * 410), RAG_ERR_DENIED (401, 403, or an address the policy refuses),
 * RAG_ERR_LIMIT (max_bytes), RAG_ERR_INTERRUPTED (a callback stopped it),
 * RAG_ERR_NET (any other status, or the transfer failed), with a message
 * naming the URL and the reason. resp is filled in every case (free it). */
int net_fetch(const net_request *rq, net_response *resp, rag_err *err);
void net_response_free(net_response *resp);

/* 1 when a (resolved) address is private, loopback, link-local, multicast,
 * reserved or otherwise not on the public internet. */
int net_address_private(const struct sockaddr *sa);

/* 0 when the policy lets a connection to sa through; else RAG_ERR_DENIED
 * with the reason in why. RAG_ERR_INVALID for a malformed allow list. */
int net_policy_check(const net_policy *p, const struct sockaddr *sa, char *why, size_t why_len);

/* Checks an allow list's syntax ("addr[/bits],..."). */
int net_allow_list_check(const char *allow, rag_err *err);

/* ---- server pools ------------------------------------------------------------ */

/* Several equivalent servers behind one setting (model.url, embed.url: a
 * comma-separated list of base URLs), which one each attempt of a request
 * goes to, and which are down; the design is at the top of net/pool.c.
 * Thread-safe. */
enum { NET_POOL_MAX = 16 }; /* servers in one list, at most */

typedef struct net_pool net_pool;

typedef enum net_pool_outcome {
    NET_POOL_OK,   /* the server answered */
    NET_POOL_FAIL, /* it failed (counted) but may serve the next request */
    NET_POOL_DOWN  /* it is unreachable or overloaded: marked down, backed off */
} net_pool_outcome;

typedef struct net_pool_stats {
    const char *label; /* the URL without userinfo (the pool's) */
    uint64_t requests, failures;
    int in_flight, up;
    double retry_at_ms; /* down: when a request may try it again (rag_now_ms) */
} net_pool_stats;

/* Checks "URL[, URL]...": 1 to NET_POOL_MAX http(s) URLs, none empty or
 * twice; the message never shows a password. */
int net_url_list_check(const char *list, rag_err *err);
/* Calls fn on each element of a comma-separated list (blanks around it
 * trimmed; i counts from 0); stops at fn's non-zero and returns it. */
int net_url_list_each(const char *list, int (*fn)(void *ctx, const char *u, size_t n, size_t i),
                      void *ctx);
/* url without its userinfo (owned): for messages, labels and `rag config`. */
char *net_url_public(const char *url);
/* The same for each URL of a list, joined with ", " (owned). */
char *net_url_list_public(const char *list);

int net_pool_new(const char *list, net_pool **out, rag_err *err);
void net_pool_free(net_pool *p);
size_t net_pool_size(const net_pool *p);
const char *net_pool_url(const net_pool *p, int i);   /* as given: for requests only */
const char *net_pool_label(const net_pool *p, int i); /* without userinfo */
const char *net_pool_shown(const net_pool *p);        /* every label, ", "-separated */

/* The server for the next attempt of a request: the least busy of those up
 * that *tried (a bit per server, 0 at the request's start) does not hold,
 * ties in turn; when all of them are down, the one back soonest. Sets its
 * bit and counts the attempt in flight; -1 when every server was tried.
 * now_ms: rag_now_ms(). */
int net_pool_acquire(net_pool *p, uint32_t *tried, double now_ms);
/* The attempt on server i (from net_pool_acquire) ended so. */
void net_pool_release(net_pool *p, int i, net_pool_outcome outcome, double now_ms);
void net_pool_stats_get(const net_pool *p, int i, net_pool_stats *out);

/* ---- downloads (rag pull) ---------------------------------------------------- */

/* Downloads url into dest: bytes go to dest.part, which a later call
 * resumes (HTTP Range) after an interruption; a dropped connection is
 * resumed at once, up to max_resumes times. The complete file's SHA-256 is
 * checked against sha256 when given, else against the hash the server
 * states (Hugging Face's X-Linked-Etag, or an ETag that is a SHA-256); a
 * mismatch removes the .part and fails. Only a verified (or, with no hash
 * known, complete) file is renamed to dest, atomically: dest is never a
 * partial or corrupt file. With gguf, a file that does not start with the
 * GGUF magic is refused (an HTML error page served as 200, say). */
typedef struct net_download {
    const char *url;
    const char *dest;
    const char *sha256; /* expected lowercase hex, or NULL */
    const char *bearer; /* e.g. $HF_TOKEN for gated models; may be NULL */
    int gguf;
    int max_resumes;        /* default 5 */
    double connect_timeout; /* default 15 s */
    double stall_timeout;   /* no byte for this long: resume (default 60 s) */
    /* progress of the whole file: bytes on disk, total (0: unknown) */
    void (*on_progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
} net_download;

typedef struct net_download_result {
    char sha256[65];       /* of the file */
    const char *hash_from; /* "--sha256", "server", or NULL: nothing to check against */
    uint64_t size;         /* bytes of the file */
    uint64_t fetched;      /* bytes transferred by this call */
    uint64_t resumed_at;   /* the .part's size when this call began (0: fresh) */
    int reconnects;        /* dropped transfers resumed */
} net_download_result;

void net_download_init(net_download *d, const char *url, const char *dest);
int net_download_run(const net_download *d, net_download_result *r, rag_err *err);

/* The User-Agent we send, and the product token robots.txt rules name. */
#define NET_USER_AGENT "ragbot/0.1 (+local retrieval-augmented generation)"
#define NET_ROBOTS_AGENT "ragbot"

#endif
