/* ingest/links: link extraction from HTML for the crawler, and same-site
 * checks. */
#include "base/buf.h"
#include "base/mem.h"
#include "ingest/links.h"
#include "test.h"

#define PAGE "http://example.com/dir/sub/page.html"

/* Extracts the links of `html` on PAGE into *out (cleared first). */
static int links(const char *html, rag_strv *out)
{
    rag_strv_free(out);
    rag_err err = {0};
    int rc = ing_html_links(html, strlen(html), PAGE, out, &err);
    if (rc) printf("    ing_html_links: %s\n", err.msg);
    return rc;
}

/* Checks that out holds exactly the NULL-terminated list `want`, in order. */
static void check_list(const rag_strv *out, const char *const *want, int line)
{
    size_t n = 0;
    while (want[n])
        n++;
    if (out->n != n) {
        printf("    line %d: %zu links, expected %zu\n", line, out->n, n);
        for (size_t i = 0; i < out->n; i++)
            printf("      got %s\n", out->v[i]);
        test_case_failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(out->v[i], want[i])) {
            printf("    line %d: link %zu is \"%s\", expected \"%s\"\n", line, i, out->v[i],
                   want[i]);
            test_case_failed = 1;
        }
    }
}
#define CHECK_LINKS(out, ...)                                                                      \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__, NULL};                                           \
        check_list(out, want_, __LINE__);                                                          \
    } while (0)

static void test_resolution(void)
{
    rag_strv v = {0};
    CHECK_INT(links("<html><body>"
                    "<a href=\"other.html\">1</a>"
                    "<a href=\"/root\">2</a>"
                    "<a href=\"../up.html\">3</a>"
                    "<a href=\"../../../../top\">4</a>"
                    "<a href=\"//cdn.example.org/lib.js\">5</a>"
                    "<a href=\"https://secure.example.com/x?y=1\">6</a>"
                    "<a href=\"?q=2\">7</a>"
                    "<a href=\"./same/./x/../y\">8</a>"
                    "<a href=\"http://Other.EXAMPLE.net:8080/Path\">9</a>"
                    "<a href=\"HTTPS://example.com:443/tls\">10</a>"
                    "</body></html>",
                    &v),
              0);
    CHECK_LINKS(&v, "http://example.com/dir/sub/other.html", "http://example.com/root",
                "http://example.com/dir/up.html", "http://example.com/top",
                "http://cdn.example.org/lib.js", "https://secure.example.com/x?y=1",
                "http://example.com/dir/sub/page.html?q=2", "http://example.com/dir/sub/same/y",
                "http://other.example.net:8080/Path", "https://example.com/tls");
    rag_strv_free(&v);
}

static void test_base_href(void)
{
    rag_strv v = {0};
    CHECK_INT(links("<html><head><base href=\"http://other.com/base/\"></head>"
                    "<body><a href=\"x\">x</a><a href=\"/abs\">abs</a>"
                    "<a href=\"http://example.com/y\">y</a></body></html>",
                    &v),
              0);
    CHECK_LINKS(&v, "http://other.com/base/x", "http://other.com/abs", "http://example.com/y");
    /* a relative base resolves against the page; only the first counts, and
     * it applies to links before it too */
    CHECK_INT(links("<a href=\"early\">e</a><base href=\"/b/\"><base href=\"http://no.com/\">"
                    "<a href=\"late\">l</a>",
                    &v),
              0);
    CHECK_LINKS(&v, "http://example.com/b/early", "http://example.com/b/late");
    /* a base that is not http(s), or without href, is ignored */
    CHECK_INT(
        links("<base target=_blank><base href=\"javascript:void(0)\"><a href=\"x\">x</a>", &v), 0);
    CHECK_LINKS(&v, "http://example.com/dir/sub/x");
    rag_strv_free(&v);
}

static void test_fragments_and_dups(void)
{
    rag_strv v = {0};
    CHECK_INT(links("<a href=\"/x#frag\">1</a>"
                    "<a href=\"#top\">2</a>"     /* the page itself */
                    "<a href=\"\">3</a>"         /* the page itself */
                    "<a href=\"/x#other\">4</a>" /* same as 1 */
                    "<a href=\"/a\">5</a>"
                    "<a href=\"/a\">6</a>"
                    "<a href=\"http://example.com/a\">7</a>"
                    "<a href=\"HTTP://EXAMPLE.COM/a\">8</a>"
                    "<a href=\"http://example.com:80/a\">9</a>"
                    "<a href=\"../sub/../../a\">10</a>"
                    "<a href=\"/A\">11</a>" /* paths are case-sensitive */
                    "<a href=\"/b?\">12</a>"
                    "<a href=\"page.html\">13</a>",
                    &v),
              0);
    CHECK_LINKS(&v, "http://example.com/x", "http://example.com/a", "http://example.com/A",
                "http://example.com/b", "http://example.com/dir/sub/page.html");
    rag_strv_free(&v);
}

static void test_skipped(void)
{
    rag_strv v = {0};
    CHECK_INT(links("<a href=\"/nf\" rel=\"nofollow\">1</a>"
                    "<a href=\"/nf2\" rel=\"external  NOFOLLOW noopener\">2</a>"
                    "<a href=\"/keep1\" rel=\"nofollower\">3</a>"
                    "<a href=\"/keep2\" rel=\"noopener noreferrer\">4</a>"
                    "<a href=\"mailto:someone@example.com\">5</a>"
                    "<a href=\"javascript:alert(1)\">6</a>"
                    "<a href=\"JavaScript:void(0)\">7</a>"
                    "<a href=\"  javascript:x()\">8</a>"
                    "<a href=\"java&#10;script:x()\">9</a>"
                    "<a href=\"data:text/html,hi\">10</a>"
                    "<a href=\"ftp://example.com/f\">11</a>"
                    "<a href=\"tel:+123\">12</a>"
                    "<a href=\"file:///etc/passwd\">13</a>"
                    "<a href=\"http://\">14</a>"
                    "<a href=\"http://a.com:99999/\">15</a>"
                    "<a href=\"http://caf\xC3\xA9.com/\">16</a>" /* IDN hosts are not converted */
                    "<a name=\"anchor\">17</a><a>18</a><area alt=x>"
                    "<link href=\"/style.css\"><img src=\"/i.png\"><script src=\"/s.js\"></script>"
                    "<a href=\"/keep3\">19</a>",
                    &v),
              0);
    CHECK_LINKS(&v, "http://example.com/keep1", "http://example.com/keep2",
                "http://example.com/keep3");
    rag_strv_free(&v);
}

static void test_markup(void)
{
    rag_strv v = {0};
    /* uppercase names, unquoted and single-quoted values, <area>, unclosed
     * and misnested tags, entities, whitespace */
    CHECK_INT(links("<HTML><BODY><DIV><A HREF=\"/upper\">u</A>"
                    "<MAP name=m><AREA SHAPE=rect HREF=/area><Area Href='/area2'></MAP>"
                    "<p><a href=/one>one<a href=/two>two<table><tr><td><a href=\"/cell\">"
                    "<b><i><a href=\"/q?a=1&amp;b=2&#38;c=3\">q</b></i>"
                    "<a href=\"&#47;slash\">s</a>"
                    "<a href=\"  /ws  \">w</a>"
                    "<a href=\"\n\t/n\nl\t\">n</a>"
                    "<a href=\"/a b\">sp</a>"
                    "<a href=\"/caf\xC3\xA9\">utf8</a>"
                    "<a href=\"/x\"y\">quote</a>"
                    "<div><span><a href=\"/last\">never closed",
                    &v),
              0);
    CHECK_LINKS(&v, "http://example.com/upper", "http://example.com/area",
                "http://example.com/area2", "http://example.com/one", "http://example.com/two",
                "http://example.com/cell", "http://example.com/q?a=1&b=2&c=3",
                "http://example.com/slash", "http://example.com/ws", "http://example.com/nl",
                "http://example.com/a%20b", "http://example.com/caf%C3%A9", "http://example.com/x",
                "http://example.com/last");
    /* a page in Latin-1 without a charset: libxml2 falls back and the byte
     * becomes its UTF-8 encoding */
    CHECK_INT(links("<p>caf\xE9 <a href=\"/caf\xE9\">x</a>", &v), 0);
    CHECK_LINKS(&v, "http://example.com/caf%C3%A9");
    /* credentials in a link are not kept */
    CHECK_INT(links("<a href=\"http://user:pw@example.com/s\">c</a>", &v), 0);
    CHECK_LINKS(&v, "http://example.com/s");
    rag_strv_free(&v);
}

static void test_unparsable(void)
{
    rag_strv v = {0};
    CHECK_INT(links("", &v), 0);
    CHECK_INT(v.n, 0);
    CHECK_INT(links("just text, no markup", &v), 0);
    CHECK_INT(v.n, 0);
    static const char bin[] = "\x00\x01\x02\xff\xfe\x00<a href=/x>";
    CHECK_INT(ing_html_links(bin, sizeof bin - 1, PAGE, &v, NULL), 0);
    CHECK_INT(ing_html_links(NULL, 0, PAGE, &v, NULL), 0);
    rag_strv_free(&v);

    /* an href longer than ING_LINK_MAX_LEN is skipped */
    rag_buf b = {0};
    rag_buf_puts(&b, "<a href=\"/");
    for (size_t i = 0; i < ING_LINK_MAX_LEN; i++)
        rag_buf_putc(&b, 'x');
    rag_buf_puts(&b, "\">long</a><a href=\"/short\">s</a>");
    CHECK_INT(links(b.data, &v), 0);
    CHECK_LINKS(&v, "http://example.com/short");
    rag_buf_free(&b);
    rag_strv_free(&v);
}

static void test_page_url(void)
{
    rag_strv v = {0};
    rag_err err = {0};
    const char *html = "<a href=\"/x\">x</a>";
    CHECK_INT(ing_html_links(html, strlen(html), "not a url", &v, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not a url");
    CHECK_INT(ing_html_links(html, strlen(html), "/relative", &v, NULL), RAG_ERR_INVALID);
    CHECK_INT(ing_html_links(html, strlen(html), "ftp://example.com/", &v, NULL), RAG_ERR_INVALID);
    CHECK_INT(ing_html_links(html, strlen(html), NULL, &v, NULL), RAG_ERR_INVALID);
    CHECK_INT(ing_html_links(html, strlen(html), PAGE, NULL, NULL), RAG_ERR_INVALID);
    CHECK_INT(v.n, 0);
    /* the page URL's own fragment and case do not leak into links */
    CHECK_INT(ing_html_links(html, strlen(html), "HTTPS://Example.COM:443/p#frag", &v, NULL), 0);
    CHECK_LINKS(&v, "https://example.com/x");
    rag_strv_free(&v);
}

static void test_append_and_cap(void)
{
    /* links are appended; duplicates are looked for among this call's links */
    rag_strv v = {0};
    rag_strv_push(&v, "kept");
    rag_strv_push(&v, "http://example.com/x");
    const char *html = "<a href=\"/x\">x</a><a href=\"/x\">x</a>";
    CHECK_INT(ing_html_links(html, strlen(html), PAGE, &v, NULL), 0);
    CHECK_LINKS(&v, "kept", "http://example.com/x", "http://example.com/x");
    rag_strv_free(&v);

    /* at most ING_LINKS_MAX, duplicates not counted, first-seen order kept */
    rag_buf b = {0};
    for (unsigned i = 0; i < ING_LINKS_MAX + 50; i++) {
        rag_buf_printf(&b, "<a href=\"/p%u\">p</a>", i);
        if (i % 3 == 0) rag_buf_puts(&b, "<a href=\"/p0\">again</a>");
    }
    CHECK_INT(links(b.data, &v), 0);
    CHECK_INT(v.n, ING_LINKS_MAX);
    if (v.n == ING_LINKS_MAX) {
        CHECK_STR(v.v[0], "http://example.com/p0");
        CHECK_STR(v.v[1], "http://example.com/p1");
        CHECK_STR(v.v[ING_LINKS_MAX - 1], "http://example.com/p9999");
    }
    rag_buf_free(&b);
    rag_strv_free(&v);
}

static void test_same_site(void)
{
    CHECK_INT(ing_same_site("http://a.com", "http://a.com:80/x"), 1);
    CHECK_INT(ing_same_site("https://a.com/", "https://a.com:443/y?z"), 1);
    CHECK_INT(ing_same_site("http://A.COM/x", "http://a.com/y"), 1);
    CHECK_INT(ing_same_site("HTTP://a.com/x", "http://a.com/y"), 1);
    CHECK_INT(ing_same_site("http://a.com", "https://a.com"), 0);
    CHECK_INT(ing_same_site("http://a.com:443", "https://a.com"), 0);
    CHECK_INT(ing_same_site("http://a.com:8080", "http://a.com"), 0);
    CHECK_INT(ing_same_site("http://a.com", "http://b.com"), 0);
    CHECK_INT(ing_same_site("http://www.a.com", "http://a.com"), 0);
    CHECK_INT(ing_same_site("http://user@a.com/", "http://a.com/"), 1);
    CHECK_INT(ing_same_site("not a url", "http://a.com"), 0);
    CHECK_INT(ing_same_site("http://a.com", "/relative"), 0);
    CHECK_INT(ing_same_site(NULL, "http://a.com"), 0);
    CHECK_INT(ing_same_site("http://a.com", NULL), 0);
}

int main(void)
{
    RUN(test_resolution);
    RUN(test_base_href);
    RUN(test_fragments_and_dups);
    RUN(test_skipped);
    RUN(test_markup);
    RUN(test_unparsable);
    RUN(test_page_url);
    RUN(test_append_and_cap);
    RUN(test_same_site);
    return test_summary();
}
