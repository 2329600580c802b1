/* ingest/crawl.h: fetching documents by URL and crawling (private to
 * ingest/; see ingest/crawl.c). */
#ifndef RAG_INGEST_CRAWL_H
#define RAG_INGEST_CRAWL_H

#include "ingest/ing_int.h"
#include "ingest/ingest.h"

/* One page: its URL as requested (the document's source), the body and the
 * URL after redirects with the type its Content-Type names; or, when it
 * could not be fetched, body NULL and why set (skipped: it was not
 * fetched on purpose, robots.txt or a type we do not read). */
typedef struct ing_page {
    const char *url;
    const rag_buf *body;
    const char *final_url;
    ing_type type;
    const char *why;
    int skipped;
} ing_page;

/* Receives each page. Returns 0, or an error that stops the run (the
 * store failed). */
typedef int (*ing_page_fn)(void *ctx, const ing_page *page, rag_err *err);

/* The type a Content-Type names; ING_TYPE_UNKNOWN for one we do not read. */
ing_type ing_type_of_mime(const char *content_type);

/* 1 when s is an http or https URL. */
int ing_is_url(const char *s);

/* Fetches urls (and, with p->crawl_depth, the pages they lead to on the
 * same site), calling on_page for each. */
int ing_crawl(const char *const *urls, size_t n_urls, const ing_params *p, ing_page_fn on_page,
              void *ctx, rag_err *err);

#endif
