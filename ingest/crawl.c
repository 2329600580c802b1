/* ingest/crawl.c: documents fetched by URL, and crawling from them.
 *
 * Each start URL is fetched; with a crawl depth, the links of an HTML page
 * that stay on the start URL's site (same scheme, host and port) are
 * fetched in turn, breadth first, up to the depth and max_pages. Every
 * fetch goes through the address policy (net/net.h: private addresses
 * refused after DNS resolution, on every redirect), is bounded in bytes
 * (max_file_size), time and redirects, and must have a content type we can
 * extract. When crawling (depth > 0), every page obeys robots.txt for our
 * agent, read once per site (one URL fetched alone is like a browser
 * opening a link its user gave, and does not ask); between two requests to
 * one site we wait crawl_delay seconds, or the site's Crawl-delay when
 * longer (capped at 60 s). A page that fails is reported and the crawl goes
 * on. */
#include "base/mem.h"
#include "base/time.h"
#include "ingest/crawl.h"
#include "ingest/links.h"
#include "net/robots.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum { MAX_DELAY_S = 60 };

/* What we know of one site (scheme://host:port). */
typedef struct site {
    char *origin;
    net_robots *robots; /* NULL: no rules */
    int unreachable;    /* robots.txt could not be fetched: crawl nothing */
    int robots_read;
    double last_fetch; /* monotonic seconds; 0: never */
    double delay;
} site;

typedef struct crawl {
    const ing_params *p;
    ing_page_fn on_page;
    void *ctx;
    site *sites;
    size_t n_sites, cap_sites;
    rag_strv seen; /* URLs queued once */
    size_t pages;  /* pages fetched */
} crawl;

int ing_is_url(const char *s)
{
    return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

/* "scheme://host[:port]" and the path with query of a URL. */
static int split_url(const char *url, char **origin, char **path)
{
    CURLU *h = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *p = NULL, *q = NULL;
    int rc = -1;
    if (h && !curl_url_set(h, CURLUPART_URL, url, 0) &&
        !curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) &&
        !curl_url_get(h, CURLUPART_HOST, &host, 0)) {
        curl_url_get(h, CURLUPART_PORT, &port, 0);
        curl_url_get(h, CURLUPART_PATH, &p, 0);
        curl_url_get(h, CURLUPART_QUERY, &q, 0);
        *origin = port ? rag_xasprintf("%s://%s:%s", scheme, host, port)
                       : rag_xasprintf("%s://%s", scheme, host);
        *path = q ? rag_xasprintf("%s?%s", p ? p : "/", q) : rag_xstrdup(p ? p : "/");
        rc = 0;
    }
    curl_free(scheme), curl_free(host), curl_free(port), curl_free(p), curl_free(q);
    curl_url_cleanup(h);
    return rc;
}

/* Tells on_page that url was not ingested, and why. */
static int report(crawl *c, const char *url, int skipped, const char *why, rag_err *err)
{
    ing_page pg = {.url = url, .why = why, .skipped = skipped};
    return c->on_page(c->ctx, &pg, err);
}

static void fill_request(const crawl *c, net_request *rq, const char *url)
{
    static const net_policy refuse_private = {0};
    net_request_init(rq, url);
    rq->what = "fetch";
    rq->policy = c->p->net_policy ? c->p->net_policy : &refuse_private;
    rq->max_bytes = c->p->max_file_size;
    rq->timeout = c->p->fetch_timeout;
    rq->max_redirects = c->p->max_redirects;
    rq->retries = 1;
}

/* Waits until the site may be asked again. */
static void pace(site *s)
{
    double d = s->delay > MAX_DELAY_S ? MAX_DELAY_S : s->delay;
    double wait = s->last_fetch ? s->last_fetch + d - rag_now_s() : 0;
    if (wait > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
    s->last_fetch = rag_now_s();
}

static site *site_for(crawl *c, const char *origin)
{
    for (size_t i = 0; i < c->n_sites; i++)
        if (!strcmp(c->sites[i].origin, origin)) return &c->sites[i];
    c->sites = rag_xgrow(c->sites, &c->cap_sites, c->n_sites + 1, sizeof *c->sites);
    site *s = &c->sites[c->n_sites++];
    *s = (site){.origin = rag_xstrdup(origin), .delay = c->p->crawl_delay};
    return s;
}

/* Reads the site's robots.txt once (RFC 9309: 4xx allows all; 5xx and
 * network failures disallow all). */
static void read_robots(crawl *c, site *s)
{
    if (s->robots_read) return;
    s->robots_read = 1;
    char *url = rag_xasprintf("%s/robots.txt", s->origin);
    net_request rq;
    fill_request(c, &rq, url);
    rq.max_bytes = NET_ROBOTS_MAX_BYTES * 2;
    net_response resp;
    rag_err err = {0};
    pace(s);
    int rc = net_fetch(&rq, &resp, &err);
    if (!rc) {
        if (net_robots_parse(resp.body.data, resp.body.len, NET_ROBOTS_AGENT, &s->robots, &err))
            s->robots = NULL;
        double cd = s->robots ? net_robots_crawl_delay(s->robots) : 0;
        if (cd > s->delay) s->delay = cd;
    } else if (!(resp.status >= 400 && resp.status < 500)) {
        s->unreachable = 1;
    }
    net_response_free(&resp);
    rag_free(url);
}

ing_type ing_type_of_mime(const char *ct)
{
    static const struct {
        const char *mime;
        ing_type type;
    } known[] = {
        {"text/html", ING_TYPE_HTML},
        {"application/xhtml+xml", ING_TYPE_HTML},
        {"text/markdown", ING_TYPE_MARKDOWN},
        {"text/x-markdown", ING_TYPE_MARKDOWN},
        {"text/plain", ING_TYPE_TEXT},
        {"application/pdf", ING_TYPE_PDF},
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", ING_TYPE_DOCX},
        {"application/vnd.openxmlformats-officedocument.presentationml.presentation",
         ING_TYPE_PPTX},
        {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ING_TYPE_XLSX},
        {"application/vnd.oasis.opendocument.text", ING_TYPE_ODT},
        {"application/vnd.oasis.opendocument.spreadsheet", ING_TYPE_ODS},
        {"application/vnd.oasis.opendocument.presentation", ING_TYPE_ODP},
        {"application/epub+zip", ING_TYPE_EPUB},
        {"application/rtf", ING_TYPE_RTF},
        {"text/rtf", ING_TYPE_RTF},
    };
    if (!ct) return ING_TYPE_UNKNOWN;
    size_t n = strcspn(ct, "; \t");
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].mime) == n && !strncasecmp(ct, known[i].mime, n)) return known[i].type;
    return ING_TYPE_UNKNOWN;
}

typedef struct queued {
    char *url;
    int depth;
} queued;

/* Fetches one URL; hands it to on_page; queues its links. Returns the
 * callback's error (a store failure stops the run), else 0. */
static int visit(crawl *c, const queued *u, const char *start, queued **q, size_t *n_q,
                 size_t *cap_q, rag_err *err)
{
    const ing_params *p = c->p;
    char *origin = NULL, *path = NULL;
    if (split_url(u->url, &origin, &path)) {
        char *why = rag_xasprintf("%s: not a valid URL", u->url);
        int rc = report(c, u->url, 0, why, err);
        rag_free(why);
        return rc;
    }
    site *s = site_for(c, origin);
    int rc = 0;
    if (p->crawl_depth > 0) {
        read_robots(c, s);
        if (s->unreachable || (s->robots && !net_robots_allowed(s->robots, path))) {
            char *why = rag_xasprintf("%s: %s", u->url,
                                      s->unreachable
                                          ? "robots.txt could not be read: the site is not crawled"
                                          : "disallowed by robots.txt");
            rc = report(c, u->url, 1, why, err);
            rag_free(why);
            goto out;
        }
    }
    net_request rq;
    fill_request(c, &rq, u->url);
    net_response resp;
    rag_err ferr = {0};
    pace(s);
    c->pages++;
    if (net_fetch(&rq, &resp, &ferr)) {
        rc = report(c, u->url, 0, ferr.msg, err);
        net_response_free(&resp);
        goto out;
    }
    ing_type type = ing_type_of_mime(resp.content_type);
    if (type == ING_TYPE_UNKNOWN) {
        char *why = rag_xasprintf(
            "%s: content type '%s' is not a document type rag reads (HTML, Markdown, text, "
            "PDF, DOCX, ODT, ODS, ODP, EPUB, RTF)",
            u->url, resp.content_type ? resp.content_type : "(none)");
        rc = report(c, u->url, 1, why, err);
        rag_free(why);
        net_response_free(&resp);
        goto out;
    }
    ing_page pg = {
        .url = u->url, .body = &resp.body, .final_url = resp.effective_url, .type = type};
    rc = c->on_page(c->ctx, &pg, err);
    if (!rc && type == ING_TYPE_HTML && u->depth < p->crawl_depth) {
        rag_strv links = {0};
        ing_html_links(resp.body.data, resp.body.len, resp.effective_url, &links, NULL);
        for (size_t i = 0; i < links.n; i++) {
            if (!ing_same_site(links.v[i], start) || rag_strv_contains(&c->seen, links.v[i]))
                continue;
            if (c->seen.n >= p->max_pages) break;
            rag_strv_push(&c->seen, links.v[i]);
            *q = rag_xgrow(*q, cap_q, *n_q + 1, sizeof **q);
            (*q)[(*n_q)++] = (queued){rag_xstrdup(links.v[i]), u->depth + 1};
        }
        rag_strv_free(&links);
    }
    net_response_free(&resp);
out:
    rag_free(origin);
    rag_free(path);
    return rc;
}

int ing_crawl(const char *const *urls, size_t n_urls, const ing_params *p, ing_page_fn on_page,
              void *ctx, rag_err *err)
{
    crawl c = {.p = p, .on_page = on_page, .ctx = ctx};
    int rc = 0;
    for (size_t i = 0; i < n_urls && !rc; i++) {
        queued *q = NULL;
        size_t n_q = 0, cap_q = 0, head = 0;
        char *start = rag_xstrndup(urls[i], strcspn(urls[i], "#"));
        if (!rag_strv_contains(&c.seen, start)) {
            rag_strv_push(&c.seen, start);
            q = rag_xgrow(q, &cap_q, 1, sizeof *q);
            q[n_q++] = (queued){rag_xstrdup(start), 0};
        }
        for (; head < n_q && !rc; head++) {
            if (p->cancel && *p->cancel) break;
            rc = visit(&c, &q[head], start, &q, &n_q, &cap_q, err);
        }
        for (size_t k = 0; k < n_q; k++)
            rag_free(q[k].url);
        rag_free(q);
        rag_free(start);
        if (p->cancel && *p->cancel) break;
    }
    for (size_t i = 0; i < c.n_sites; i++) {
        rag_free(c.sites[i].origin);
        net_robots_free(c.sites[i].robots);
    }
    rag_free(c.sites);
    rag_strv_free(&c.seen);
    return rc;
}

int ing_fetch_page(const char *url, const ing_params *p, rag_buf *body, char **content_type,
                   rag_err *err)
{
    crawl c = {.p = p};
    net_request rq;
    fill_request(&c, &rq, url);
    net_response resp;
    int rc = net_fetch(&rq, &resp, err);
    if (!rc) {
        *body = resp.body;
        resp.body = (rag_buf){0};
        *content_type = resp.content_type ? rag_xstrdup(resp.content_type) : NULL;
    }
    net_response_free(&resp);
    return rc;
}
