/* net: robots.txt parsing, group selection and matching (RFC 9309 and
 * Google's documented behaviour); which addresses the fetch policy lets
 * through. */
#include "base/buf.h"
#include "base/mem.h"
#include "net/net.h"
#include "net/robots.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

/* Parses `txt` for `agent`; the caller frees. */
static net_robots *parse_for(const char *txt, const char *agent)
{
    net_robots *r = NULL;
    rag_err err = {0};
    int rc = net_robots_parse(txt, strlen(txt), agent, &r, &err);
    if (rc) printf("    parse failed: %s\n", err.msg);
    return r;
}

/* Is `path` allowed for "ragbot" by robots.txt `txt`? */
static int allowed(const char *txt, const char *path)
{
    net_robots *r = parse_for(txt, "ragbot");
    int ok = net_robots_allowed(r, path);
    net_robots_free(r);
    return ok;
}

/* The example file of RFC 9309 section 5.1. */
static const char rfc_example[] = "User-Agent: *\n"
                                  "Disallow: *.gif$\n"
                                  "Disallow: /example/\n"
                                  "Allow: /publications/\n"
                                  "\n"
                                  "User-Agent: foobot\n"
                                  "Disallow:/\n"
                                  "Allow:/example/page.html\n"
                                  "Allow:/example/allowed.gif\n"
                                  "\n"
                                  "User-Agent: barbot\n"
                                  "User-Agent: bazbot\n"
                                  "Disallow: /example/page.html\n"
                                  "\n"
                                  "User-Agent: quxbot\n"
                                  "\n"
                                  "EOF\n";

static void test_rfc_example(void)
{
    net_robots *r = parse_for(rfc_example, "foobot");
    CHECK_INT(net_robots_allowed(r, "/example/page.html"), 1);
    CHECK_INT(net_robots_allowed(r, "/example/allowed.gif"), 1);
    CHECK_INT(net_robots_allowed(r, "/example/other.html"), 0);
    CHECK_INT(net_robots_allowed(r, "/"), 0);
    CHECK_INT(net_robots_allowed(r, "/robots.txt"), 1); /* always */
    net_robots_free(r);

    r = parse_for(rfc_example, "barbot"); /* barbot and bazbot share a group */
    CHECK_INT(net_robots_allowed(r, "/example/page.html"), 0);
    CHECK_INT(net_robots_allowed(r, "/example/other.html"), 1);
    CHECK_INT(net_robots_allowed(r, "/x.gif"), 1); /* the * rules do not apply */
    net_robots_free(r);
    r = parse_for(rfc_example, "BazBot");
    CHECK_INT(net_robots_allowed(r, "/example/page.html"), 0);
    net_robots_free(r);

    r = parse_for(rfc_example, "quxbot"); /* a group without rules allows all */
    CHECK_INT(net_robots_allowed(r, "/example/page.html"), 1);
    CHECK_INT(net_robots_allowed(r, "/a.gif"), 1);
    net_robots_free(r);

    r = parse_for(rfc_example, "otherbot"); /* the * group */
    CHECK_INT(net_robots_allowed(r, "/a/b.gif"), 0);
    CHECK_INT(net_robots_allowed(r, "/a/b.gif?x"), 1); /* $ anchors */
    CHECK_INT(net_robots_allowed(r, "/example/"), 0);
    CHECK_INT(net_robots_allowed(r, "/example/x.html"), 0);
    CHECK_INT(net_robots_allowed(r, "/example"), 1);
    CHECK_INT(net_robots_allowed(r, "/publications/"), 1);
    CHECK_INT(net_robots_allowed(r, "/publications/a.gif"), 1); /* the longer Allow wins */
    CHECK_INT(net_robots_allowed(r, "/example/a.gif?x"), 0);
    net_robots_free(r);
}

/* RFC 9309 section 5.2: the longest match wins. */
static void test_rfc_longest_match(void)
{
    const char *txt = "User-Agent: foobot\n"
                      "Allow: /example/page/\n"
                      "Disallow: /example/page/disallowed.gif\n";
    net_robots *r = parse_for(txt, "foobot");
    CHECK_INT(net_robots_allowed(r, "/example/page/"), 1);
    CHECK_INT(net_robots_allowed(r, "/example/page/a.html"), 1);
    CHECK_INT(net_robots_allowed(r, "/example/page/disallowed.gif"), 0);
    net_robots_free(r);
}

/* Google's table of precedence examples. */
static void test_google_precedence(void)
{
    CHECK_INT(allowed("user-agent: *\nallow: /p\ndisallow: /\n", "/page"), 1);
    CHECK_INT(allowed("user-agent: *\nallow: /folder\ndisallow: /folder\n", "/folder/page"), 1);
    CHECK_INT(allowed("user-agent: *\nallow: /page\ndisallow: /*.htm\n", "/page.htm"), 0);
    CHECK_INT(allowed("user-agent: *\nallow: /page\ndisallow: /*.ph\n", "/page.php5"), 1);
    CHECK_INT(allowed("user-agent: *\nallow: /$\ndisallow: /\n", "/"), 1);
    CHECK_INT(allowed("user-agent: *\nallow: /$\ndisallow: /\n", "/page.htm"), 0);
    /* order in the file does not matter */
    CHECK_INT(allowed("user-agent: *\ndisallow: /folder\nallow: /folder\n", "/folder/x"), 1);
    CHECK_INT(allowed("user-agent: *\ndisallow: /a/b\nallow: /a\n", "/a/b/c"), 0);
}

/* Google's documented wildcard examples. */
static void test_wildcards(void)
{
    const char *fish = "user-agent: *\ndisallow: /fish*\n";
    CHECK_INT(allowed(fish, "/fish"), 0);
    CHECK_INT(allowed(fish, "/fish.html"), 0);
    CHECK_INT(allowed(fish, "/fish/salmon.html"), 0);
    CHECK_INT(allowed(fish, "/fishheads/yummy.html"), 0);
    CHECK_INT(allowed(fish, "/fish.php?id=anything"), 0);
    CHECK_INT(allowed(fish, "/Fish.asp"), 1); /* case-sensitive */
    CHECK_INT(allowed(fish, "/catfish"), 1);
    CHECK_INT(allowed(fish, "/?id=fish"), 1);

    const char *php = "user-agent: *\ndisallow: /*.php\n";
    CHECK_INT(allowed(php, "/index.php"), 0);
    CHECK_INT(allowed(php, "/folder/filename.php?parameters"), 0);
    CHECK_INT(allowed(php, "/folder/any.php.file.html"), 0);
    CHECK_INT(allowed(php, "/windows.PHP"), 1);
    CHECK_INT(allowed(php, "/"), 1);

    const char *php_end = "user-agent: *\ndisallow: /*.php$\n";
    CHECK_INT(allowed(php_end, "/filename.php"), 0);
    CHECK_INT(allowed(php_end, "/folder/filename.php"), 0);
    CHECK_INT(allowed(php_end, "/filename.php?parameters"), 1);
    CHECK_INT(allowed(php_end, "/filename.php/"), 1);
    CHECK_INT(allowed(php_end, "/filename.php5"), 1);

    const char *mid = "user-agent: *\ndisallow: /fish*.php\n";
    CHECK_INT(allowed(mid, "/fish.php"), 0);
    CHECK_INT(allowed(mid, "/fishheads/catfish.php?parameters"), 0);
    CHECK_INT(allowed(mid, "/Fish.PHP"), 1);

    /* several stars, repeated stars, a star-only rule, '$' inside a pattern */
    CHECK_INT(allowed("user-agent: *\ndisallow: /a*b*c$\n", "/a-x-b-y-c"), 0);
    CHECK_INT(allowed("user-agent: *\ndisallow: /a*b*c$\n", "/a-x-c-y-b"), 1);
    CHECK_INT(allowed("user-agent: *\ndisallow: /a*b*c$\n", "/abcbc"), 0);
    CHECK_INT(allowed("user-agent: *\ndisallow: /a**b\n", "/a/b"), 0);
    CHECK_INT(allowed("user-agent: *\ndisallow: *\n", "/anything"), 0);
    CHECK_INT(allowed("user-agent: *\ndisallow: /x*$\n", "/x/y"), 0);
    CHECK_INT(allowed("user-agent: *\ndisallow: /a$b\n", "/a$b/c"), 0);
    CHECK_INT(allowed("user-agent: *\ndisallow: /a$b\n", "/a"), 1);
    CHECK_INT(allowed("user-agent: *\ndisallow: /ab$\n", "/ab"), 0);
    CHECK_INT(allowed("user-agent: *\ndisallow: /ab$\n", "/abc"), 1);
    /* overlapping segments: a middle segment may not reuse the bytes of the anchored one */
    CHECK_INT(allowed("user-agent: *\ndisallow: /x*ab*ab$\n", "/xab"), 1);
    CHECK_INT(allowed("user-agent: *\ndisallow: /x*ab*ab$\n", "/xabab"), 0);
}

static void test_group_selection(void)
{
    const char *txt = "User-agent: *\n"
                      "Disallow: /all\n"
                      "\n"
                      "User-agent: ragbot\n"
                      "Disallow: /rag\n";
    net_robots *r = parse_for(txt, "ragbot");
    CHECK_INT(net_robots_allowed(r, "/rag/x"), 0);
    CHECK_INT(net_robots_allowed(r, "/all/x"), 1); /* the specific group replaces * */
    net_robots_free(r);
    r = parse_for(txt, "otherbot");
    CHECK_INT(net_robots_allowed(r, "/rag/x"), 1);
    CHECK_INT(net_robots_allowed(r, "/all/x"), 0);
    net_robots_free(r);

    /* the specific group wins wherever it is in the file */
    CHECK_INT(allowed("User-agent: ragbot\nDisallow: /r\nUser-agent: *\nDisallow: /s\n", "/s"), 1);
    /* case-insensitive agent, version suffix on both sides */
    CHECK_INT(allowed("User-agent: RagBot/2.1 (+http://x)\nDisallow: /r\n", "/r"), 0);
    net_robots *v = parse_for("User-agent: ragbot\nDisallow: /r\n", "RAGBOT/1.0");
    CHECK_INT(net_robots_allowed(v, "/r"), 0);
    net_robots_free(v);
    /* a longer or different token is another crawler */
    CHECK_INT(allowed("User-agent: ragbotx\nDisallow: /\n", "/a"), 1);
    CHECK_INT(allowed("User-agent: rag\nDisallow: /\n", "/a"), 1);
    CHECK_INT(allowed("User-agent: ragbot-news\nDisallow: /\n", "/a"), 1);
    /* several user-agent lines in one group, ours not first */
    CHECK_INT(allowed("User-agent: a\nUser-agent: ragbot\nUser-agent: b\nDisallow: /x\n", "/x"), 0);
    /* blank lines and Sitemap do not end the run of user-agent lines */
    CHECK_INT(allowed("User-agent: ragbot\n\nSitemap: http://x/s.xml\nUser-agent: other\n"
                      "Disallow: /x\n",
                      "/x"),
              0);
    /* but a rule does: the next user-agent line starts a new group */
    CHECK_INT(allowed("User-agent: ragbot\nDisallow: /a\nUser-agent: other\nDisallow: /b\n", "/b"),
              1);
    /* groups naming us are merged, wherever they are */
    const char *merged = "User-agent: ragbot\nDisallow: /a\n"
                         "User-agent: other\nDisallow: /b\n"
                         "User-agent: ragbot\nDisallow: /c\nAllow: /a/ok\n";
    CHECK_INT(allowed(merged, "/a/x"), 0);
    CHECK_INT(allowed(merged, "/a/ok"), 1);
    CHECK_INT(allowed(merged, "/b"), 1);
    CHECK_INT(allowed(merged, "/c"), 0);
    /* * groups are merged too */
    CHECK_INT(allowed("User-agent: *\nDisallow: /a\nUser-agent: x\nDisallow: /b\n"
                      "User-agent: *\nDisallow: /c\n",
                      "/c"),
              0);
    /* a group naming both * and us is ours */
    CHECK_INT(allowed("User-agent: *\nUser-agent: ragbot\nDisallow: /x\n", "/x"), 0);
    /* rules before any user-agent line belong to no group */
    CHECK_INT(allowed("Disallow: /\nUser-agent: *\nDisallow: /x\n", "/y"), 1);
    /* no group for us and no * group: everything is allowed */
    CHECK_INT(allowed("User-agent: other\nDisallow: /\n", "/"), 1);
    /* "*bot" is not the global agent */
    CHECK_INT(allowed("User-agent: *bot\nDisallow: /\n", "/"), 1);
}

static void test_crawl_delay(void)
{
    net_robots *r = parse_for("User-agent: *\nCrawl-delay: 10\n", "ragbot");
    CHECK(net_robots_crawl_delay(r) == 10.0);
    net_robots_free(r);
    r = parse_for("User-agent: ragbot\ncrawl-delay:0.5\nDisallow: /x\n", "ragbot");
    CHECK(net_robots_crawl_delay(r) == 0.5);
    CHECK_INT(net_robots_allowed(r, "/x"), 0);
    net_robots_free(r);
    /* the delay of the * group does not apply to a crawler with its own group */
    r = parse_for("User-agent: *\nCrawl-delay: 5\nUser-agent: ragbot\nDisallow: /x\n", "ragbot");
    CHECK(net_robots_crawl_delay(r) == 0);
    net_robots_free(r);
    /* merged groups: the largest; junk values are ignored; huge ones clamped */
    r = parse_for("User-agent: ragbot\nCrawl-delay: 2\nUser-agent: ragbot\nCrawl-delay: 3.25\n"
                  "Crawl-delay: soon\nCrawl-delay: -4\n",
                  "ragbot");
    CHECK(net_robots_crawl_delay(r) == 3.25);
    net_robots_free(r);
    r = parse_for("User-agent: *\nCrawl-delay: 99999999999999999999\n", "ragbot");
    CHECK(net_robots_crawl_delay(r) == NET_ROBOTS_MAX_DELAY);
    net_robots_free(r);
    /* Crawl-delay ends a run of user-agent lines, like a rule */
    r = parse_for("User-agent: ragbot\nCrawl-delay: 1\nUser-agent: other\nDisallow: /\n", "ragbot");
    CHECK_INT(net_robots_allowed(r, "/"), 1);
    net_robots_free(r);
    CHECK(net_robots_crawl_delay(NULL) == 0);
}

static void test_syntax(void)
{
    /* comments, CRLF, lone CR, a BOM, odd spacing and case */
    const char *txt = "\xEF\xBB\xBFuser-AGENT: ragbot # us\r\n"
                      "# a comment line\r\n"
                      "  DISALLOW :   /private   # why\r"
                      "allow:/private/ok\r\n"
                      "Disallow\t:\t/tab\n";
    CHECK_INT(allowed(txt, "/private/x"), 0);
    CHECK_INT(allowed(txt, "/private/ok"), 1);
    CHECK_INT(allowed(txt, "/tab"), 0);
    CHECK_INT(allowed(txt, "/public"), 1);
    /* a '#' inside the pattern starts a comment */
    CHECK_INT(allowed("User-agent: *\nDisallow: /a#b\n", "/a"), 0);
    /* a forgotten colon is accepted for exactly two words */
    CHECK_INT(allowed("User-agent ragbot\nDisallow /x\n", "/x"), 0);
    CHECK_INT(allowed("User-agent: *\nDisallow /x /y\n", "/x"), 1);
    /* Google's accepted misspellings */
    CHECK_INT(allowed("Useragent: *\nDissallow: /x\n", "/x"), 0);
    CHECK_INT(allowed("user agent: *\ndisalow: /x\n", "/x"), 0);
    /* junk lines, unknown keys, binary bytes and lines without a key change nothing */
    const char *junk = "<html><body>Not found</body></html>\n"
                       "User-agent: *\n"
                       "Host: example.com\n"
                       "Sitemap: https://example.com/sitemap.xml\n"
                       ": /nokey\n"
                       "\x01\x02\xff\xfe garbage garbage garbage\n"
                       "Noindex: /x\n"
                       "Disallow: /y\n";
    CHECK_INT(allowed(junk, "/x"), 1);
    CHECK_INT(allowed(junk, "/nokey"), 1);
    CHECK_INT(allowed(junk, "/y"), 0);
    /* an HTML error page served as robots.txt allows everything */
    CHECK_INT(allowed("<!DOCTYPE html><html><head><title>404</title></head></html>", "/"), 1);
    /* an empty file, and text without a final newline */
    CHECK_INT(allowed("", "/"), 1);
    CHECK_INT(allowed("User-agent: *\nDisallow: /z", "/z"), 0);
    /* text with a NUL inside is read by length */
    net_robots *r = NULL;
    static const char nul[] = "User-agent: *\nDisallow: /a\0b\nDisallow: /c\n";
    CHECK_INT(net_robots_parse(nul, sizeof nul - 1, "ragbot", &r, NULL), 0);
    CHECK_INT(net_robots_allowed(r, "/c"), 0);
    CHECK_INT(net_robots_allowed(r, "/a"), 1);
    net_robots_free(r);
}

static void test_empty_rules(void)
{
    /* an empty Disallow allows everything */
    CHECK_INT(allowed("User-agent: *\nDisallow:\n", "/"), 1);
    CHECK_INT(allowed("User-agent: *\nDisallow:\n", "/any/thing"), 1);
    CHECK_INT(allowed("User-agent: *\nDisallow: \nDisallow: /x\n", "/x"), 0);
    /* an empty Disallow in our group still shields us from the * group */
    CHECK_INT(allowed("User-agent: *\nDisallow: /\nUser-agent: ragbot\nDisallow:\n", "/a"), 1);
    /* disallow everything */
    CHECK_INT(allowed("User-agent: *\nDisallow: /\n", "/"), 0);
    CHECK_INT(allowed("User-agent: *\nDisallow: /\n", "/robots.txt"), 1);
    CHECK_INT(allowed("User-agent: *\nDisallow: /\n", ""), 0); /* "" is "/" */
}

static void test_percent_encoding(void)
{
    /* RFC 9309 section 2.2.2: unreserved characters are compared decoded */
    const char *baz = "User-agent: *\nDisallow: /foo/bar/%62%61%7A\n";
    CHECK_INT(allowed(baz, "/foo/bar/baz"), 0);
    CHECK_INT(allowed(baz, "/foo/bar/%62az"), 0);
    CHECK_INT(allowed("User-agent: *\nDisallow: /foo/bar/baz\n", "/foo/bar/%62%61%7a"), 0);
    CHECK_INT(allowed("User-agent: *\nDisallow: /~joe\n", "/%7Ejoe/x"), 0);
    /* UTF-8 in a pattern equals its percent-encoded form in either case */
    const char *utf = "User-agent: *\nDisallow: /foo/bar/\xE3\x83\x84\n";
    CHECK_INT(allowed(utf, "/foo/bar/%E3%83%84"), 0);
    CHECK_INT(allowed(utf, "/foo/bar/%e3%83%84"), 0);
    CHECK_INT(allowed("User-agent: *\nDisallow: /foo/bar/%E3%83%84\n", "/foo/bar/\xE3\x83\x84"), 0);
    /* reserved characters stay encoded: %2F is not '/', %3F is not '?' */
    CHECK_INT(allowed("User-agent: *\nDisallow: /a%2Fb\n", "/a/b"), 1);
    CHECK_INT(allowed("User-agent: *\nDisallow: /a%2fb\n", "/a%2Fb"), 0);
    CHECK_INT(allowed("User-agent: *\nDisallow: /a/b\n", "/a%2Fb"), 1);
    CHECK_INT(allowed("User-agent: *\nDisallow: /a%3Fx\n", "/a?x"), 1);
    /* a literal '*' written as %2A is not a wildcard */
    CHECK_INT(allowed("User-agent: *\nDisallow: /a%2Ab\n", "/axb"), 1);
    CHECK_INT(allowed("User-agent: *\nDisallow: /a%2Ab\n", "/a%2ab"), 0);
    /* the query string is part of what is matched */
    CHECK_INT(allowed("User-agent: *\nDisallow: /*?sid=\n", "/page?sid=1"), 0);
    CHECK_INT(allowed("User-agent: *\nDisallow: /*?sid=\n", "/page?x=1"), 1);
    /* a stray '%' is compared as itself */
    CHECK_INT(allowed("User-agent: *\nDisallow: /100%\n", "/100%/x"), 0);
    CHECK_INT(allowed("User-agent: *\nDisallow: /a%zz\n", "/a%zz"), 0);
}

static void test_size_cap(void)
{
    /* rules past 500 KiB are not read; a line cut by the limit is dropped */
    rag_buf b = {0};
    rag_buf_puts(&b, "User-agent: *\nDisallow: /early\n");
    while (b.len < NET_ROBOTS_MAX_BYTES - 100)
        rag_buf_puts(&b, "# padding padding padding\n");
    size_t pad = NET_ROBOTS_MAX_BYTES - 20 - b.len; /* "Disallow: /cut..." straddles the cap */
    for (size_t i = 0; i < pad; i++)
        rag_buf_putc(&b, '#');
    rag_buf_puts(&b, "\nDisallow: /cut/this/line/is/long\nDisallow: /late\n");
    CHECK(b.len > NET_ROBOTS_MAX_BYTES);
    net_robots *r = NULL;
    CHECK_INT(net_robots_parse(b.data, b.len, "ragbot", &r, NULL), 0);
    CHECK_INT(net_robots_allowed(r, "/early"), 0);
    /* read whole or cut to "Disallow: /cut/this", the line would disallow this */
    CHECK_INT(net_robots_allowed(r, "/cut/this/line/is/long"), 1);
    CHECK_INT(net_robots_allowed(r, "/late"), 1);
    net_robots_free(r);

    /* a line that ends exactly at the cap is kept */
    rag_buf_clear(&b);
    rag_buf_puts(&b, "User-agent: *\n");
    while (b.len < NET_ROBOTS_MAX_BYTES - 100)
        rag_buf_puts(&b, "# padding padding padding\n");
    const char *last = "Disallow: /edge";
    pad = NET_ROBOTS_MAX_BYTES - strlen(last) - 1 - b.len;
    for (size_t i = 0; i < pad; i++)
        rag_buf_putc(&b, '#');
    rag_buf_putc(&b, '\n');
    rag_buf_puts(&b, last);
    CHECK_INT(b.len, NET_ROBOTS_MAX_BYTES);
    rag_buf_puts(&b, "\nDisallow: /late\n");
    CHECK_INT(net_robots_parse(b.data, b.len, "ragbot", &r, NULL), 0);
    CHECK_INT(net_robots_allowed(r, "/edge"), 0);
    CHECK_INT(net_robots_allowed(r, "/late"), 1);
    net_robots_free(r);
    rag_buf_free(&b);
}

static void test_rule_cap(void)
{
    /* rules past NET_ROBOTS_MAX_RULES are ignored */
    rag_buf b = {0};
    rag_buf_puts(&b, "User-agent: *\n");
    for (unsigned i = 0; i < NET_ROBOTS_MAX_RULES; i++)
        rag_buf_printf(&b, "Disallow: /r%u\n", i);
    rag_buf_puts(&b, "Disallow: /over\n");
    net_robots *r = NULL;
    CHECK_INT(net_robots_parse(b.data, b.len, "ragbot", &r, NULL), 0);
    CHECK_INT(net_robots_allowed(r, "/r0"), 0);
    CHECK_INT(net_robots_allowed(r, "/r9999"), 0);
    CHECK_INT(net_robots_allowed(r, "/over"), 1);
    net_robots_free(r);
    rag_buf_free(&b);
}

static void test_pathological(void)
{
    /* many stars against a long path stay linear (no backtracking) */
    rag_buf pat = {0}, path = {0};
    rag_buf_puts(&pat, "User-agent: *\nDisallow: /");
    for (int i = 0; i < 2000; i++)
        rag_buf_puts(&pat, "*a");
    rag_buf_puts(&pat, "*b$\n");
    rag_buf_putc(&path, '/');
    for (int i = 0; i < 50000; i++)
        rag_buf_putc(&path, 'a');
    net_robots *r = parse_for(pat.data, "ragbot");
    CHECK_INT(net_robots_allowed(r, path.data), 1);
    rag_buf_putc(&path, 'b');
    CHECK_INT(net_robots_allowed(r, path.data), 0);
    net_robots_free(r);
    rag_buf_free(&pat);
    rag_buf_free(&path);
}

static void test_null_and_args(void)
{
    /* no robots.txt (a 4xx): everything is allowed */
    CHECK_INT(net_robots_allowed(NULL, "/"), 1);
    CHECK_INT(net_robots_allowed(NULL, "/private"), 1);
    net_robots *r = (net_robots *)1;
    rag_err err = {0};
    CHECK_INT(net_robots_parse("User-agent: *\n", 14, "", &r, &err), RAG_ERR_INVALID);
    CHECK(r == NULL);
    CHECK_CONTAINS(err.msg, "product token");
    CHECK_INT(net_robots_parse("x", 1, "/1.0", &r, NULL), RAG_ERR_INVALID);
    CHECK_INT(net_robots_parse("x", 1, NULL, &r, NULL), RAG_ERR_INVALID);
    CHECK_INT(net_robots_parse("x", 1, "ragbot", NULL, NULL), RAG_ERR_INVALID);
    CHECK_INT(net_robots_parse(NULL, 0, "ragbot", &r, NULL), 0);
    CHECK_INT(net_robots_allowed(r, "/"), 1);
    CHECK(net_robots_crawl_delay(r) == 0);
    net_robots_free(r);
    net_robots_free(NULL);
}

/* A textual address as a sockaddr, then the policy's answer (1: let through). */
static int passes(const net_policy *p, const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in->sin_addr) == 1)
        in->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    else
        return -1;
    char why[256];
    return net_policy_check(p, (struct sockaddr *)&ss, why, sizeof why) == 0;
}

static void test_private_addresses(void)
{
    net_policy strict = {0};
    static const char *const inside[] = {
        "127.0.0.1",
        "127.255.0.9",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.9.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "192.0.2.5",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "64:ff9b::a00:1",
        "2002:a00:1::1",
        "2001:db8::1",
    };
    static const char *const outside[] = {
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",
        "172.15.255.255",
        "100.128.0.1",
        "93.184.216.34",
        "169.253.1.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    };
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        if (passes(&strict, inside[i]) != 0) printf("    %s let through\n", inside[i]);
        CHECK_INT(passes(&strict, inside[i]), 0);
    }
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        if (passes(&strict, outside[i]) != 1) printf("    %s refused\n", outside[i]);
        CHECK_INT(passes(&strict, outside[i]), 1);
    }
}

static void test_allow_lists(void)
{
    net_policy all = {.allow_private = 1};
    CHECK_INT(passes(&all, "10.0.0.1"), 1);
    CHECK_INT(passes(&all, "::1"), 1);
    net_policy some = {.allow = "127.0.0.1, 10.20.0.0/16,fd00::/8"};
    CHECK_INT(passes(&some, "127.0.0.1"), 1);
    CHECK_INT(passes(&some, "127.0.0.2"), 0);
    CHECK_INT(passes(&some, "10.20.3.4"), 1);
    CHECK_INT(passes(&some, "10.21.0.1"), 0);
    CHECK_INT(passes(&some, "::ffff:10.20.0.9"), 1); /* an IPv4 block covers its mapped form */
    CHECK_INT(passes(&some, "fd00::5"), 1);
    CHECK_INT(passes(&some, "fe80::1"), 0);
    CHECK_INT(passes(&some, "8.8.8.8"), 1); /* public addresses need no allowing */
    rag_err err = {0};
    CHECK_INT(net_allow_list_check("10.0.0.0/8,::1", &err), 0);
    CHECK_INT(net_allow_list_check("10.0.0.0/33", &err), RAG_ERR_INVALID);
    CHECK_INT(net_allow_list_check("intranet.example", &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "intranet.example");
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "10.0.0.1", &in.sin_addr);
    char why[256];
    net_policy strict = {0};
    CHECK_INT(net_policy_check(&strict, (struct sockaddr *)&in, why, sizeof why), RAG_ERR_DENIED);
    CHECK_CONTAINS(why, "10.0.0.1 is a private");
}

int main(void)
{
    RUN(test_private_addresses);
    RUN(test_allow_lists);
    RUN(test_rfc_example);
    RUN(test_rfc_longest_match);
    RUN(test_google_precedence);
    RUN(test_wildcards);
    RUN(test_group_selection);
    RUN(test_crawl_delay);
    RUN(test_syntax);
    RUN(test_empty_rules);
    RUN(test_percent_encoding);
    RUN(test_size_cap);
    RUN(test_rule_cap);
    RUN(test_pathological);
    RUN(test_null_and_args);
    return test_summary();
}
