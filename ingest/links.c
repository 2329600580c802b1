/* ingest/links.c: the links of an HTML page (<a href>, <area href>), made
 * absolute, for the crawler.
 *
 * The page goes through libxml2's HTML parser, which decodes entities
 * (&amp;), lowercases names and recovers from broken markup; with no
 * declared charset it reads UTF-8 and falls back to Latin-1 on invalid
 * bytes, which is all an href needs. The DOM is walked without recursion
 * (pages can nest deeply): once for the first <base href>, once for links.
 *
 * Each href is cleaned as a browser's URL parser would before curl sees it
 * (clean_href), resolved against the base with curl_url (RFC 3986), then
 * put in one form (scheme and host lowercase, no default port, no fragment,
 * no user:password, which a page must not make us send), so that the same
 * target written two ways is kept once. Duplicates are found with a small
 * open-addressing hash set over the strings already appended. */
#include "ingest/links.h"
#include "ingest/ing_int.h"
#include "base/mem.h"

#include <curl/curl.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

typedef struct link_set {
    rag_strv *out;
    size_t first; /* out->v[first..] are ours */
    size_t *slot; /* index into out->v + 1; 0 = empty; cap is a power of two */
    size_t cap;
} link_set;

static int is_html_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int is_http(const char *scheme)
{
    return !strcasecmp(scheme, "http") || !strcasecmp(scheme, "https");
}

/* The value of attribute `name` of element n (free with xmlFree), or NULL. */
static xmlChar *attr(xmlNodePtr n, const char *name)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next)
        if (a->name && !strcasecmp((const char *)a->name, name))
            return xmlNodeGetContent((xmlNodePtr)a);
    return NULL;
}

static int name_is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name && !strcasecmp((const char *)n->name, name);
}

/* The node after n in document order, not leaving root; NULL at the end. */
static xmlNodePtr next_node(xmlNodePtr n, xmlNodePtr root)
{
    if (n->children && (n->type == XML_ELEMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE))
        return n->children;
    while (n != root && !n->next)
        n = n->parent;
    return n == root ? NULL : n->next;
}

/* rel="... nofollow ...": a space-separated token list, case-insensitive. */
static int is_nofollow(xmlNodePtr n)
{
    xmlChar *rel = attr(n, "rel");
    int found = 0;
    for (const char *s = (const char *)rel; s && *s && !found;) {
        while (is_html_space(*s))
            s++;
        size_t t = 0;
        while (s[t] && !is_html_space(s[t]))
            t++;
        found = t == 8 && !strncasecmp(s, "nofollow", 8);
        s += t;
    }
    xmlFree(rel);
    return found;
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the scheme s[0..n) starts with, or 0 (RFC 3986:
 * ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'). */
static size_t scheme_len(const char *s, size_t n)
{
    if (!n || !is_alpha(s[0])) return 0;
    size_t i = 1;
    while (i < n && (is_alpha(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
                     s[i] == '.'))
        i++;
    return i < n && s[i] == ':' ? i : 0;
}

/* Writes href, cleaned, into b: surrounding whitespace trimmed, tabs and
 * line breaks removed (so "java\nscript:" is seen for what it is) and other
 * bytes a URL cannot hold percent-encoded (what browsers do; curl refuses
 * them in absolute URLs). Returns 0 for hrefs to skip: empty or
 * fragment-only (the page itself; curl 7.88 also resolves those wrongly),
 * too long, or with a scheme other than http(s). */
static int clean_href(rag_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    while (n && is_html_space(*s))
        s++, n--;
    while (n && is_html_space(s[n - 1]))
        n--;
    if (n > ING_LINK_MAX_LEN) return 0;
    rag_buf_clear(b);
    rag_buf_reserve(b, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t' || c == '\n' || c == '\r') continue;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rag_buf_append(b, e, 3);
        } else {
            rag_buf_putc(b, (char)c);
        }
    }
    if (!b->len || b->data[0] == '#') return 0;
    size_t sl = scheme_len(b->data, b->len);
    return !sl || (sl == 4 && !strncasecmp(b->data, "http", 4)) ||
           (sl == 5 && !strncasecmp(b->data, "https", 5));
}

/* Puts h (an absolute URL) in the form we hand out: only http(s), an ASCII
 * host (curl decodes %XX in hosts, and IDNs are not converted here) made
 * lowercase, no credentials, no fragment. Returns the URL (free with
 * curl_free) or NULL to skip it. */
static char *finish_url(CURLU *h)
{
    char *scheme = NULL, *host = NULL, *url = NULL;
    if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) || !is_http(scheme)) goto done;
    if (curl_url_get(h, CURLUPART_HOST, &host, 0) || !host[0]) goto done;
    for (char *p = host; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) goto done;
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
    }
    if (curl_url_set(h, CURLUPART_HOST, host, 0) || curl_url_set(h, CURLUPART_USER, NULL, 0) ||
        curl_url_set(h, CURLUPART_PASSWORD, NULL, 0) ||
        curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0))
        goto done;
    if (curl_url_get(h, CURLUPART_URL, &url, CURLU_NO_DEFAULT_PORT)) url = NULL;
done:
    curl_free(scheme);
    curl_free(host);
    return url;
}

/* Resolves href against base; a new handle (free with curl_url_cleanup), or
 * NULL to skip the href. tmp is scratch space. */
static CURLU *resolve(CURLU *base, const char *href, rag_buf *tmp)
{
    if (!clean_href(tmp, href)) return NULL;
    CURLU *h = curl_url_dup(base);
    if (h && curl_url_set(h, CURLUPART_URL, tmp->data, 0) == CURLUE_OK) return h;
    curl_url_cleanup(h);
    return NULL;
}

static uint64_t hash_str(const char *s)
{
    uint64_t x = 14695981039346656037ull; /* FNV-1a */
    for (; *s; s++)
        x = (x ^ (unsigned char)*s) * 1099511628211ull;
    return x;
}

/* The slot holding s, or the empty slot where it belongs. */
static size_t *set_find(const link_set *t, const char *s)
{
    size_t i = (size_t)hash_str(s) & (t->cap - 1);
    while (t->slot[i] && strcmp(t->out->v[t->slot[i] - 1], s))
        i = (i + 1) & (t->cap - 1);
    return &t->slot[i];
}

/* Appends url to out unless it is already there. */
static void set_add(link_set *t, const char *url)
{
    size_t n = t->out->n - t->first;
    if (2 * (n + 1) > t->cap) { /* keep the load under one half */
        rag_free(t->slot);
        t->cap = t->cap ? 2 * t->cap : 64;
        t->slot = rag_xcalloc(t->cap, sizeof *t->slot);
        for (size_t i = t->first; i < t->out->n; i++)
            *set_find(t, t->out->v[i]) = i + 1;
    }
    size_t *s = set_find(t, url);
    if (*s) return;
    rag_strv_push(t->out, url);
    *s = t->out->n;
}

/* The first <base href> that resolves to an http(s) URL, or NULL. */
static CURLU *find_base(xmlNodePtr root, CURLU *page, rag_buf *tmp)
{
    for (xmlNodePtr n = root; n; n = next_node(n, root)) {
        if (!name_is(n, "base")) continue;
        xmlChar *href = attr(n, "href");
        if (!href) continue;
        CURLU *h = resolve(page, (const char *)href, tmp);
        xmlFree(href);
        char *u = h ? finish_url(h) : NULL;
        if (u) {
            curl_free(u);
            return h;
        }
        curl_url_cleanup(h);
        return NULL; /* only the first <base href> counts, as in browsers */
    }
    return NULL;
}

static void collect(xmlNodePtr root, CURLU *base, link_set *t, rag_buf *tmp)
{
    for (xmlNodePtr n = root; n && t->out->n - t->first < ING_LINKS_MAX; n = next_node(n, root)) {
        if (!name_is(n, "a") && !name_is(n, "area")) continue;
        xmlChar *href = attr(n, "href");
        if (!href) continue;
        CURLU *h = is_nofollow(n) ? NULL : resolve(base, (const char *)href, tmp);
        xmlFree(href);
        char *u = h ? finish_url(h) : NULL;
        if (u) set_add(t, u);
        curl_free(u);
        curl_url_cleanup(h);
    }
}

int ing_html_links(const char *html, size_t len, const char *page_url, rag_strv *out, rag_err *err)
{
    if (!out) return rag_err_set(err, RAG_ERR_INVALID, "links: no output list");
    if (len > INT_MAX)
        return rag_err_set(err, RAG_ERR_LIMIT, "links: page larger than %d bytes", INT_MAX);
    CURLU *page = curl_url();
    char *u = NULL;
    if (!page || !page_url || curl_url_set(page, CURLUPART_URL, page_url, 0) ||
        !(u = finish_url(page))) {
        curl_url_cleanup(page);
        return rag_err_set(err, RAG_ERR_INVALID,
                           "links: page URL \"%.200s\" is not an absolute http(s) URL",
                           page_url ? page_url : "(null)");
    }
    curl_free(u);
    htmlDocPtr doc = NULL;
    if (html && len) {
        ing_xml_init();
        doc = htmlReadMemory(html, (int)len, NULL, NULL,
                             HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                 HTML_PARSE_NONET);
    }
    if (doc) {
        rag_buf tmp = {0};
        xmlNodePtr root = (xmlNodePtr)doc;
        CURLU *base = find_base(root, page, &tmp);
        link_set t = {.out = out, .first = out->n};
        collect(root, base ? base : page, &t, &tmp);
        rag_free(t.slot);
        curl_url_cleanup(base);
        rag_buf_free(&tmp);
        xmlFreeDoc(doc);
    }
    curl_url_cleanup(page);
    return 0;
}

/* Scheme, host and port (the default one when absent) of url, each freed
 * with curl_free by the caller even on failure; 0 or -1. */
static int site_parts(const char *url, char **scheme, char **host, char **port)
{
    CURLU *h = curl_url();
    int bad = !h || !url || curl_url_set(h, CURLUPART_URL, url, 0) ||
              curl_url_get(h, CURLUPART_SCHEME, scheme, 0) ||
              curl_url_get(h, CURLUPART_HOST, host, 0) ||
              curl_url_get(h, CURLUPART_PORT, port, CURLU_DEFAULT_PORT);
    curl_url_cleanup(h);
    return bad ? -1 : 0;
}

int ing_same_site(const char *a, const char *b)
{
    char *sa = NULL, *ha = NULL, *pa = NULL, *sb = NULL, *hb = NULL, *pb = NULL;
    int ok = !site_parts(a, &sa, &ha, &pa) && !site_parts(b, &sb, &hb, &pb) &&
             !strcasecmp(sa, sb) && !strcasecmp(ha, hb) && !strcmp(pa, pb);
    curl_free(sa), curl_free(ha), curl_free(pa);
    curl_free(sb), curl_free(hb), curl_free(pb);
    return ok;
}
