/* ingest/links.h: the links of an HTML page, for crawling.
 *
 * Links are read with libxml2's forgiving HTML parser and resolved with
 * libcurl's URL API, so they come out absolute and in one form: scheme and
 * host lowercase, default port left out, dot segments removed, spaces and
 * non-ASCII bytes percent-encoded, no fragment, no user:password. */
#ifndef RAG_INGEST_LINKS_H
#define RAG_INGEST_LINKS_H

#include "base/buf.h"
#include "base/err.h"

#include <stddef.h>

/* Links kept per page; the rest of a page's links are ignored. */
#define ING_LINKS_MAX 10000u
/* Longer href values are skipped (browsers and servers give up near here). */
#define ING_LINK_MAX_LEN 8192u

/* Appends to *out (copies) the http and https targets of the <a href> and
 * <area href> elements of html[0..len) (borrowed, any encoding libxml2
 * detects), in document order, each once, at most ING_LINKS_MAX. Strings
 * already in *out are left alone and not compared with.
 *
 * page_url (borrowed) is the absolute http(s) URL the page was fetched from;
 * relative references resolve against it, or against the first
 * <base href>. Skipped, never an error: rel="nofollow" links, other schemes
 * (javascript:, mailto:, data:, ftp:, ...), references to the page itself
 * (empty or fragment-only hrefs), hosts that are not ASCII (IDNs are not
 * converted to punycode), hrefs longer than ING_LINK_MAX_LEN and hrefs that
 * do not parse. <meta name=robots content=nofollow> concerns the whole page
 * and is the caller's to honour. A page that does not parse at all has no
 * links. Returns 0, RAG_ERR_INVALID when page_url is not an absolute
 * http(s) URL or out is NULL, or RAG_ERR_LIMIT for a page over
 * INT_MAX bytes. */
int ing_html_links(const char *html, size_t len, const char *page_url, rag_strv *out, rag_err *err);

/* 1 when URLs a and b (borrowed) have the same scheme, host (compared
 * case-insensitively) and port (a missing port is the scheme's default), 0
 * otherwise or when either does not parse. */
int ing_same_site(const char *a, const char *b);

#endif
