/* net/pool.c: a pool of equivalent servers (several OpenAI-compatible
 * generator or embedding servers behind one setting), which of them a
 * request goes to, and which are down (see net/net.h).
 *
 * Design. The pool is configured as a comma-separated list of base URLs
 * (model.url, embed.url), at most NET_POOL_MAX, each checked as one URL is.
 * Its state is a few counters per server under one mutex: ragd calls the
 * generator and the embedder from several threads, and a pick is a few
 * comparisons, so a lock is cheaper than anything cleverer.
 *
 * Choice: each attempt goes to the server with the fewest attempts in flight
 * from this process among those the request has not tried yet and that are
 * up; ties go round robin (the scan starts after the server picked last).
 *
 * Failover is the caller's (rag/generate.c, embed/remote.c): an attempt
 * that fails before anything of its answer reached the caller (a failed
 * connection, a timeout, a 408, 429 or 5xx answer: net_response.transient)
 * is released as NET_POOL_DOWN and the request asks for another server;
 * each server serves a request at most once. Once text of a streamed
 * answer went out, a failure is the caller's error, as with one server.
 *
 * Down and back: a server released as NET_POOL_DOWN is marked down and
 * skipped for a back-off of 2 s, doubled at each failed trial (4 s, 8 s,
 * ...) up to 30 s. No background thread probes it: once its back-off has
 * run out, the next request may take it as a trial (one trial at a time);
 * a trial is an ordinary request, so when it fails the request fails over
 * to another server and loses only the time of a refused connection. A
 * success (NET_POOL_OK) marks the server up and resets the back-off. When
 * every server the request has not tried is down and still in its
 * back-off, the request goes to the one whose back-off ends first rather
 * than failing without trying: a pool of one server keeps working as one
 * server did.
 *
 * Credentials: a URL may carry user:password@; the pool keeps the URL as
 * given for requests and a label without the userinfo for every message
 * and metric (net_url_public). */
#include "base/mem.h"
#include "net/net.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { URL_MAX = 2048 };

#define BACKOFF_FIRST_MS 2000.0
#define BACKOFF_MAX_MS 30000.0

typedef struct server {
    char *url;   /* as given: requests only */
    char *label; /* without userinfo: messages and metrics */
    int in_flight;
    int down;    /* marked down: skipped until retry_at */
    int trial;   /* a trial attempt is in flight */
    int strikes; /* failed trials in a row (with the fall): the back-off doubles */
    double retry_at;
    uint64_t requests, failures;
} server;

struct net_pool {
    pthread_mutex_t mu;
    size_t n;
    size_t next; /* where the next scan starts: round robin among equals */
    char *shown; /* the labels, ", "-separated */
    server s[NET_POOL_MAX];
};

char *net_url_public(const char *url)
{
    if (!url) return NULL;
    const char *scheme = strstr(url, "://");
    if (!scheme) return rag_xstrdup(url);
    const char *host = scheme + 3;
    size_t auth = strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < host + auth; p++)
        if (*p == '@') at = p; /* the last: a password may hold '@' */
    if (!at) return rag_xstrdup(url);
    return rag_xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

int net_url_list_each(const char *list, int (*fn)(void *ctx, const char *u, size_t n, size_t i),
                      void *ctx)
{
    size_t i = 0;
    const char *p = list;
    for (;;) {
        size_t w = strcspn(p, ",");
        const char *a = p, *b = p + w;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        int rc = fn(ctx, a, (size_t)(b - a), i++);
        if (rc) return rc;
        if (!p[w]) return 0;
        p += w + 1;
    }
}

typedef struct checking {
    rag_err *err;
    char *seen[NET_POOL_MAX];
    size_t n;
} checking;

static int check_one(void *ctx, const char *u, size_t n, size_t i)
{
    checking *c = ctx;
    if (!n)
        return rag_err_set(c->err, RAG_ERR_INVALID, "server %zu of the list is empty (a stray ',')",
                           i + 1);
    if (i >= NET_POOL_MAX)
        return rag_err_set(c->err, RAG_ERR_INVALID,
                           "more than %d servers (a comma-separated list holds at most %d URLs)",
                           NET_POOL_MAX, NET_POOL_MAX);
    char *one = rag_xstrndup(u, n);
    char *pub = net_url_public(one);
    int rc = 0;
    if ((strncasecmp(one, "http://", 7) && strncasecmp(one, "https://", 8)) || n > URL_MAX ||
        strcspn(one, " \t\r\n") != n)
        rc =
            rag_err_set(c->err, RAG_ERR_INVALID, "'%.100s' is not an http:// or https:// URL", pub);
    for (size_t k = 0; !rc && k < c->n; k++)
        if (!strcmp(c->seen[k], one))
            rc = rag_err_set(c->err, RAG_ERR_INVALID, "'%.100s' is listed twice", pub);
    rag_free(pub);
    if (rc) {
        rag_free(one);
        return rc;
    }
    c->seen[c->n++] = one;
    return 0;
}

int net_url_list_check(const char *list, rag_err *err)
{
    checking c = {.err = err};
    int rc = net_url_list_each(list ? list : "", check_one, &c);
    for (size_t k = 0; k < c.n; k++)
        rag_free(c.seen[k]);
    return rc;
}

char *net_url_list_public(const char *list)
{
    if (!list) return NULL;
    rag_buf b = {0};
    const char *p = list;
    for (;;) {
        size_t w = strcspn(p, ",");
        const char *a = p, *e = p + w;
        while (a < e && (*a == ' ' || *a == '\t'))
            a++;
        while (e > a && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char *one = rag_xstrndup(a, (size_t)(e - a));
        char *pub = net_url_public(one);
        if (b.len) rag_buf_puts(&b, ", ");
        rag_buf_puts(&b, pub);
        rag_free(pub);
        rag_free(one);
        if (!p[w]) break;
        p += w + 1;
    }
    return rag_buf_steal(&b);
}

static int add_one(void *ctx, const char *u, size_t n, size_t i)
{
    net_pool *p = ctx;
    (void)i;
    server *s = &p->s[p->n++];
    s->url = rag_xstrndup(u, n);
    s->label = net_url_public(s->url);
    return 0;
}

int net_pool_new(const char *list, net_pool **out, rag_err *err)
{
    *out = NULL;
    int rc = net_url_list_check(list, err);
    if (rc) return rc;
    net_pool *p = rag_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    net_url_list_each(list, add_one, p);
    p->shown = net_url_list_public(list);
    *out = p;
    return 0;
}

void net_pool_free(net_pool *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        rag_free(p->s[i].url);
        rag_free(p->s[i].label);
    }
    rag_free(p->shown);
    pthread_mutex_destroy(&p->mu);
    rag_free(p);
}

size_t net_pool_size(const net_pool *p)
{
    return p ? p->n : 0;
}

const char *net_pool_url(const net_pool *p, int i)
{
    return p->s[i].url;
}

const char *net_pool_label(const net_pool *p, int i)
{
    return p->s[i].label;
}

const char *net_pool_shown(const net_pool *p)
{
    return p->shown;
}

int net_pool_acquire(net_pool *p, uint32_t *tried, double now_ms)
{
    pthread_mutex_lock(&p->mu);
    int best = -1, late = -1;
    for (size_t k = 0; k < p->n; k++) {
        size_t i = (p->next + k) % p->n;
        server *s = &p->s[i];
        if (*tried & (1u << i)) continue;
        int ready = !s->down || (now_ms >= s->retry_at && !s->trial);
        if (ready && (best < 0 || s->in_flight < p->s[best].in_flight)) best = (int)i;
        if (!ready && (late < 0 || s->retry_at < p->s[late].retry_at)) late = (int)i;
    }
    if (best < 0) best = late; /* every one left is down: the soonest back */
    if (best >= 0) {
        server *s = &p->s[best];
        if (s->down) s->trial = 1;
        s->in_flight++;
        s->requests++;
        *tried |= 1u << best;
        p->next = (size_t)best + 1;
    }
    pthread_mutex_unlock(&p->mu);
    return best;
}

void net_pool_release(net_pool *p, int i, net_pool_outcome outcome, double now_ms)
{
    if (i < 0 || (size_t)i >= p->n) return;
    pthread_mutex_lock(&p->mu);
    server *s = &p->s[i];
    if (s->in_flight > 0) s->in_flight--;
    int was_trial = s->down && s->trial;
    if (was_trial) s->trial = 0;
    if (outcome == NET_POOL_OK) {
        s->down = 0;
        s->strikes = 0;
    } else {
        s->failures++;
        /* the first failure marks it down; a failed trial doubles the
         * back-off; attempts that were already in flight when it fell
         * change nothing more */
        if (outcome == NET_POOL_DOWN && (!s->down || was_trial)) {
            s->down = 1;
            if (s->strikes < 16) s->strikes++;
            double wait = BACKOFF_FIRST_MS;
            for (int k = 1; k < s->strikes && wait < BACKOFF_MAX_MS; k++)
                wait *= 2;
            s->retry_at = now_ms + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
        }
    }
    pthread_mutex_unlock(&p->mu);
}

void net_pool_stats_get(const net_pool *p, int i, net_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    if (i < 0 || (size_t)i >= p->n) return;
    pthread_mutex_lock((pthread_mutex_t *)&p->mu);
    const server *s = &p->s[i];
    out->label = s->label;
    out->requests = s->requests;
    out->failures = s->failures;
    out->in_flight = s->in_flight;
    out->up = !s->down;
    out->retry_at_ms = s->down ? s->retry_at : 0;
    pthread_mutex_unlock((pthread_mutex_t *)&p->mu);
}
