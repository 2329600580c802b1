/* rag/render.c: JSON of results, citations and timings (see rag/render.h). */
#include "rag/render.h"
#include "base/mem.h"

static void add_id(cJSON *o, const rag_ids *ids, int kind, const char *field, int64_t id)
{
    if (!field) return;
    if (!ids) {
        cJSON_AddNumberToObject(o, field, (double)id);
        return;
    }
    char s[RAG_ID_LEN + 1];
    rag_id_format(ids, kind, id, s);
    cJSON_AddStringToObject(o, field, s);
}

void rag_ids_json(cJSON *o, const rag_ids *ids, const char *doc_field, const char *chunk_field,
                  const store_hit *h)
{
    add_id(o, ids, RAG_ID_DOCUMENT, doc_field, h->document_id);
    add_id(o, ids, RAG_ID_CHUNK, chunk_field, h->chunk_id);
}

cJSON *rag_result_json(const rag_result *r, size_t rank, int explain, const rag_ids *ids)
{
    const store_hit *h = &r->hit;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rank", (double)rank);
    cJSON_AddNumberToObject(o, "score", r->score);
    if (r->rerank_rank) cJSON_AddNumberToObject(o, "rerank_score", r->rerank_score);
    rag_ids_json(o, ids, "document_id", "chunk_id", h);
    cJSON_AddStringToObject(o, "uri", h->uri);
    cJSON_AddStringToObject(o, "title", h->title);
    cJSON_AddStringToObject(o, "heading_path", h->heading_path);
    cJSON_AddStringToObject(o, "snippet", h->snippet ? h->snippet : "");
    cJSON_AddNumberToObject(o, "byte_start", (double)h->byte_start);
    cJSON_AddNumberToObject(o, "byte_end", (double)h->byte_end);
    if (explain) {
        cJSON *e = cJSON_AddObjectToObject(o, "explain");
        if (r->kw_rank) {
            cJSON_AddNumberToObject(e, "keyword_rank", r->kw_rank);
            cJSON_AddNumberToObject(e, "bm25", r->kw_score);
        }
        if (r->vec_rank) {
            cJSON_AddNumberToObject(e, "vector_rank", r->vec_rank);
            cJSON_AddNumberToObject(e, "cosine", r->vec_score);
        }
        cJSON_AddNumberToObject(e, "rrf", r->rrf_score);
        if (r->rerank_rank) cJSON_AddNumberToObject(e, "rerank_rank", r->rerank_rank);
        cJSON_AddNumberToObject(e, "lexical", r->lexical);
        cJSON_AddBoolToObject(e, "answer_cutoff_passed", r->relevant);
    }
    return o;
}

void rag_timings_json(cJSON *t, const rag_results *r)
{
    cJSON_AddNumberToObject(t, "embed_ms", r->embed_ms);
    cJSON_AddNumberToObject(t, "keyword_ms", r->keyword_ms);
    cJSON_AddNumberToObject(t, "vector_ms", r->vector_ms);
    cJSON_AddNumberToObject(t, "fuse_ms", r->fuse_ms);
    cJSON_AddNumberToObject(t, "rerank_ms", r->rerank_ms);
    cJSON_AddNumberToObject(t, "retrieve_ms",
                            r->embed_ms + r->keyword_ms + r->vector_ms + r->fuse_ms + r->rerank_ms);
}

cJSON *rag_citation_json(int n, const store_hit *h, const char *snippet, const rag_ids *ids)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", n);
    add_id(o, ids, RAG_ID_DOCUMENT, "document", h->document_id);
    cJSON_AddStringToObject(o, "uri", h->uri);
    cJSON_AddStringToObject(o, "title", h->title);
    cJSON_AddStringToObject(o, "heading_path", h->heading_path);
    add_id(o, ids, RAG_ID_CHUNK, "chunk", h->chunk_id);
    cJSON_AddStringToObject(o, "snippet", snippet ? snippet : "");
    return o;
}

char *rag_snippet(const char *text, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    while (n > 0 && n < len && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    return rag_xstrndup(text, n);
}
