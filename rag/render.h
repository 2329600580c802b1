/* rag/render.h: the JSON shapes of results, citations and timings, shared
 * by `rag search/ask --json` and the daemon's API so that both speak the
 * same fields. */
#ifndef RAG_RAG_RENDER_H
#define RAG_RAG_RENDER_H

#include "rag/ids.h"
#include "rag/retrieve.h"
#include "store/store.h"

#include <cJSON.h>

/* Document and chunk ids: with ids (the API), the strings the API shows
 * (rag/ids.h); without (NULL: the command line), the database's numbers. */
void rag_ids_json(cJSON *o, const rag_ids *ids, const char *doc_field, const char *chunk_field,
                  const store_hit *h);
/* A search result: rank, score, document and chunk ids, uri, title,
 * heading path, snippet, byte range; with explain, each stage's rank and
 * score. */
cJSON *rag_result_json(const rag_result *r, size_t rank, int explain, const rag_ids *ids);
/* A citation: {n, document, uri, title, heading_path, chunk, snippet}. */
cJSON *rag_citation_json(int n, const store_hit *h, const char *snippet, const rag_ids *ids);
/* The start of text, at most max bytes, cut at a character boundary
 * (owned). */
char *rag_snippet(const char *text, size_t len, size_t max);
/* embed_ms, keyword_ms, vector_ms, fuse_ms, rerank_ms and retrieve_ms (their sum) into t. */
void rag_timings_json(cJSON *t, const rag_results *r);

#endif
