/* ragd/api.c: the small routes (page, health, metrics, models, search,
 * embeddings) and what the handlers share (ragd/api_int.h). */
#include "ragd/api_int.h"
#include "base/mem.h"
#include "base/time.h"
#include "rag/render.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef RAG_VERSION
#define RAG_VERSION "0.1.0"
#endif

long long ragd_api_unix_time(void)
{
    return (long long)time(NULL);
}

static const char *at(const char *where, const char *name, char *buf, size_t size)
{
    if (where && *where)
        snprintf(buf, size, "%s.%s", where, name);
    else
        snprintf(buf, size, "%s", name);
    return buf;
}

int ragd_api_string(ragd_response *resp, const cJSON *obj, const char *name, const char *where,
                    size_t max_len, int required, const char **out)
{
    char field[128];
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (!v || cJSON_IsNull(v)) {
        if (!required) return 0;
        ragd_error(resp, 400, at(where, name, field, sizeof field), "%s is required", field);
        return -1;
    }
    if (!cJSON_IsString(v)) {
        ragd_error(resp, 400, at(where, name, field, sizeof field), "%s: expected a string", field);
        return -1;
    }
    if (strlen(v->valuestring) > max_len) {
        ragd_error(resp, 400, at(where, name, field, sizeof field), "%s: longer than %zu bytes",
                   field, max_len);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

int ragd_api_number(ragd_response *resp, const cJSON *obj, const char *name, const char *where,
                    double lo, double hi, double *out)
{
    char field[128];
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        ragd_error(resp, 400, at(where, name, field, sizeof field),
                   "%s: expected a number from %g to %g", field, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

int ragd_api_int(ragd_response *resp, const cJSON *obj, const char *name, const char *where,
                 long lo, long hi, long *out)
{
    char field[128];
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
        ragd_error(resp, 400, at(where, name, field, sizeof field),
                   "%s: expected an integer from %ld to %ld", field, lo, hi);
        return -1;
    }
    *out = (long)v->valuedouble;
    return 0;
}

int ragd_api_bool(ragd_response *resp, const cJSON *obj, const char *name, const char *where,
                  int *out)
{
    char field[128];
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) {
        ragd_error(resp, 400, at(where, name, field, sizeof field), "%s: expected true or false",
                   field);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

/* "labels": ["a", "b"] or "a,b": the caller's principal narrowed to them.
 * A label outside a non-administrator's roles is refused (403): a request
 * can only see less than its key, never more. */
static int narrow(ragd_request *req, ragd_response *resp, const cJSON *obj, const char *where,
                  rag_principal *out)
{
    char field[128];
    at(where, "labels", field, sizeof field);
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, "labels") : NULL;
    memset(out, 0, sizeof *out);
    if (!v || cJSON_IsNull(v)) {
        out->admin = req->who.admin;
        for (size_t i = 0; i < req->who.roles.n; i++)
            rag_strv_push(&out->roles, req->who.roles.v[i]);
        return 0;
    }
    rag_buf csv = {0};
    if (cJSON_IsString(v)) {
        rag_buf_puts(&csv, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (!cJSON_IsString(e)) {
                rag_buf_free(&csv);
                ragd_error(resp, 400, field, "%s: expected strings", field);
                return -1;
            }
            if (csv.len) rag_buf_putc(&csv, ',');
            rag_buf_puts(&csv, e->valuestring);
        }
    } else {
        ragd_error(resp, 400, field, "%s: expected an array of labels or a comma-separated string",
                   field);
        return -1;
    }
    rag_err err = {0};
    int rc = rag_principal_from_roles(rag_buf_str(&csv), out, &err);
    rag_buf_free(&csv);
    if (rc) {
        ragd_error(resp, 400, field, "%s: %s", field, err.msg);
        return -1;
    }
    for (size_t i = 0; !req->who.admin && i < out->roles.n; i++)
        if (!rag_strv_contains(&req->who.roles, out->roles.v[i])) {
            ragd_error(resp, 403, field, "%s: '%s' is not among the roles of this key", field,
                       out->roles.v[i]);
            rag_principal_free(out);
            return -1;
        }
    return 0;
}

int ragd_api_retrieval_read(ragd_request *req, ragd_response *resp, const cJSON *obj,
                            const char *where, long k_default, long k_max, int chunks_default,
                            ragd_api_retrieval *out)
{
    memset(out, 0, sizeof *out);
    out->k = k_default;
    out->chunks = chunks_default;
    out->mode = req->params->search_mode;
    out->rerank = req->params->search_rerank;
    const char *mode = NULL;
    if (ragd_api_int(resp, obj, "k", where, 1, k_max, &out->k) ||
        ragd_api_string(resp, obj, "mode", where, 16, 0, &mode) ||
        ragd_api_bool(resp, obj, "rerank", where, &out->rerank) ||
        ragd_api_bool(resp, obj, "chunks", where, &out->chunks))
        return -1;
    if (mode) {
        char field[128];
        if (strcmp(mode, "keyword") && strcmp(mode, "vector") && strcmp(mode, "hybrid")) {
            ragd_error(resp, 400, at(where, "mode", field, sizeof field),
                       "%s: '%s' is not keyword, vector or hybrid", field, mode);
            return -1;
        }
        out->mode = strcmp(mode, "hybrid") ? mode : NULL;
    }
    return narrow(req, resp, obj, where, &out->who);
}

void ragd_api_retrieval_free(ragd_api_retrieval *r)
{
    rag_principal_free(&r->who);
}

void ragd_api_retrieve_params(const ragd_request *req, const ragd_api_retrieval *r,
                              rag_retrieve_params *p)
{
    *p = req->params->retrieval;
    p->k = (size_t)r->k;
    p->keyword = !r->mode || strcmp(r->mode, "vector");
    p->vector = !r->mode || strcmp(r->mode, "keyword");
    p->per_document = !r->chunks;
    p->want_snippet = 1;
    p->hl_open = "**";
    p->hl_close = "**";
}

/* ---- GET / ------------------------------------------------------------------- */

void ragd_api_page(ragd_request *req, ragd_response *resp)
{
    (void)req;
    resp->static_body = ragd_web_page(&resp->body_len);
    resp->content_type = "text/html; charset=utf-8";
    resp->html = 1;
}

/* ---- GET /health ---------------------------------------------------------------- */

/* A model's name, and where it runs when that is another server:
 * "qwen2.5 (remote http://10.0.0.5:8080/v1)". */
static void add_model(cJSON *o, const char *key, const char *name, const char *url)
{
    if (!name) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char *s = url ? rag_xasprintf("%s (remote %s)", name, url) : rag_xstrdup(name);
    cJSON_AddStringToObject(o, key, s);
    rag_free(s);
}

void ragd_api_health(ragd_request *req, ragd_response *resp)
{
    const ragd_engine_info *in = ragd_engine_get_info(req->engine);
    resp->json = cJSON_CreateObject();
    cJSON_AddStringToObject(resp->json, "status", "ok");
    cJSON_AddBoolToObject(resp->json, "ready", 1);
    cJSON_AddStringToObject(resp->json, "version", RAG_VERSION);
    cJSON *m = cJSON_AddObjectToObject(resp->json, "models");
    add_model(m, "generator", in->model_name, in->model_url);
    add_model(m, "embedding", in->embed_name, in->embed_url);
    if (in->rerank_name)
        cJSON_AddStringToObject(m, "reranker", in->rerank_name);
    else
        cJSON_AddNullToObject(m, "reranker");
    cJSON_AddStringToObject(resp->json, "answers", in->model_name ? "generated" : "extractive");
    cJSON_AddStringToObject(resp->json, "search", in->embed_name ? "hybrid" : "keyword");
    ragd_replica_status rs;
    if (ragd_engine_cluster_status(req->engine, &rs)) {
        /* searches go on from the replica either way: "stale" informs the
         * load balancer and the operator, it is not an error */
        cJSON *c = cJSON_AddObjectToObject(resp->json, "cluster");
        cJSON_AddStringToObject(c, "database", rs.name);
        cJSON_AddBoolToObject(c, "reachable", rs.connected);
        cJSON_AddNumberToObject(c, "replica_seq", (double)rs.seq);
        cJSON_AddNumberToObject(c, "lag_seconds", rs.lag_s);
        cJSON_AddBoolToObject(c, "stale", rs.stale);
        if (rs.stale) cJSON_ReplaceItemInObject(resp->json, "status", cJSON_CreateString("stale"));
    }
}

/* ---- GET /metrics --------------------------------------------------------------- */

void ragd_api_metrics(ragd_request *req, ragd_response *resp)
{
    ragd_meter_gauges g = {0};
    ragd_engine_queue_depth(req->engine, &g.queue_waiting, &g.generations_running);
    g.batching = ragd_engine_batching(req->engine, &g.batch);
    g.embed_batching = ragd_engine_embed_batching(req->engine, &g.embed);
    ragd_engine_pools(req->engine, &g.gen_pool, &g.embed_pool);
    ragd_server_gauges(req->srv, &g);
    g.cluster = ragd_engine_cluster_status(req->engine, &g.replica);
    ragd_answers_stats_get(ragd_engine_answers(req->engine), &g.answers);
    store *s = ragd_engine_store_get(req->engine);
    store_stats st;
    rag_err err = {0};
    if (store_stats_get(s, &st, &err) == 0) {
        g.documents = st.n_docs;
        g.chunks = st.n_chunks;
        store_stats_free(&st);
    }
    ragd_engine_store_put(req->engine, s);
    size_t anon = 0, file = 0;
    if (rag_mem_resident(&anon, &file) == 0) g.rss_bytes = anon + file;
    g.heap_bytes = rag_mem_in_use();
    g.ready = 1;
    rag_buf out = {0};
    ragd_meter_render(req->meter, &g, &out);
    resp->body_len = out.len;
    resp->body = rag_buf_steal(&out);
    /* libmicrohttpd frees it with free(): copy out of our allocator */
    char *copy = malloc(resp->body_len + 1);
    memcpy(copy, resp->body, resp->body_len + 1);
    rag_free(resp->body);
    resp->body = copy;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- GET /v1/models -------------------------------------------------------------- */

/* url: the server a remote model runs on ("remote" in the entry), or NULL. */
static void model_entry(cJSON *data, const char *id, const char *kind, const char *url)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 0);
    cJSON_AddStringToObject(m, "owned_by", "ragd");
    cJSON_AddStringToObject(m, "kind", kind);
    if (url) cJSON_AddStringToObject(m, "remote", url);
    cJSON_AddItemToArray(data, m);
}

void ragd_api_models(ragd_request *req, ragd_response *resp)
{
    const ragd_engine_info *in = ragd_engine_get_info(req->engine);
    resp->json = cJSON_CreateObject();
    cJSON_AddStringToObject(resp->json, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(resp->json, "data");
    model_entry(data, in->model_name ? in->model_name : "ragd-extractive", "chat", in->model_url);
    if (in->embed_name) model_entry(data, in->embed_name, "embedding", in->embed_url);
    if (in->rerank_name) model_entry(data, in->rerank_name, "rerank", NULL);
}

/* ---- POST /v1/search -------------------------------------------------------------- */

void ragd_api_search(ragd_request *req, ragd_response *resp)
{
    const char *query = NULL;
    int explain = 0;
    if (ragd_api_string(resp, req->json, "query", NULL, 4096, 1, &query) ||
        ragd_api_bool(resp, req->json, "explain", NULL, &explain))
        return;
    ragd_api_retrieval r;
    long k_max = req->params->search_k > 100 ? req->params->search_k : 100;
    if (ragd_api_retrieval_read(req, resp, req->json, NULL, req->params->search_k, k_max, 0, &r))
        return;
    rag_retrieve_params p;
    ragd_api_retrieve_params(req, &r, &p);
    store *s = ragd_engine_store_get(req->engine);
    rag_results res;
    char *note = NULL;
    rag_err err = {0};
    int rc = ragd_engine_retrieve(req->engine, s, query, &r.who, &p, r.rerank, &res, &note, &err);
    /* explain: whether an answer would use each result (rag/relevance.h) */
    if (!rc && explain && (rc = rag_relevance(s, query, &res, &req->params->cutoff, &err)))
        rag_results_free(&res);
    ragd_engine_store_put(req->engine, s);
    if (rc) {
        ragd_error_from(resp, &err);
    } else {
        ragd_meter_stage(req->meter, "embed", res.embed_ms / 1e3);
        ragd_meter_stage(req->meter, "keyword", res.keyword_ms / 1e3);
        if (p.vector) ragd_meter_stage(req->meter, "vector", res.vector_ms / 1e3);
        if (res.rerank_ms > 0) ragd_meter_stage(req->meter, "rerank", res.rerank_ms / 1e3);
        resp->json = cJSON_CreateObject();
        cJSON_AddStringToObject(resp->json, "object", "search.results");
        cJSON_AddStringToObject(resp->json, "query", query);
        const char *mode = p.vector && p.keyword && !note ? "hybrid"
                           : p.vector && !note            ? "vector"
                                                          : "keyword";
        cJSON_AddStringToObject(resp->json, "mode", mode);
        if (note) cJSON_AddStringToObject(resp->json, "note", note);
        cJSON *arr = cJSON_AddArrayToObject(resp->json, "results");
        for (size_t i = 0; i < res.n; i++)
            cJSON_AddItemToArray(
                arr, rag_result_json(&res.v[i], i + 1, explain, ragd_engine_ids(req->engine)));
        rag_timings_json(cJSON_AddObjectToObject(resp->json, "timings"), &res);
        rag_results_free(&res);
    }
    rag_free(note);
    ragd_api_retrieval_free(&r);
}

/* ---- POST /v1/embeddings ------------------------------------------------------------ */

/* Standard base64 with padding (OpenSSL's encoder; NUL-terminated). */
static char *base64(const unsigned char *p, size_t n)
{
    char *out = rag_xmalloc((n + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

enum { EMBED_MAX_INPUTS = 256, EMBED_MAX_TEXT = 64 * 1024 };

void ragd_api_embeddings(ragd_request *req, ragd_response *resp)
{
    int dims = ragd_engine_embed_dims(req->engine);
    if (!dims) {
        ragd_error(resp, 501, NULL, "no embedding model is loaded (start ragd with --embed-model)");
        return;
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(req->json, "input");
    const char **texts = NULL;
    size_t n = 0;
    if (cJSON_IsString(in)) {
        texts = rag_xcalloc(1, sizeof *texts);
        texts[n++] = in->valuestring;
    } else if (cJSON_IsArray(in)) {
        int count = cJSON_GetArraySize(in);
        if (count < 1 || count > EMBED_MAX_INPUTS) {
            ragd_error(resp, 400, "input", "input: from 1 to %d texts", EMBED_MAX_INPUTS);
            return;
        }
        texts = rag_xcalloc((size_t)count, sizeof *texts);
        const cJSON *e;
        cJSON_ArrayForEach(e, in)
        {
            if (!cJSON_IsString(e)) {
                ragd_error(resp, 400, "input",
                           "input[%zu]: expected a string (token arrays are not supported)", n);
                rag_free(texts);
                return;
            }
            texts[n++] = e->valuestring;
        }
    } else {
        ragd_error(resp, 400, "input", "input is required: a string or an array of strings");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (strlen(texts[i]) > EMBED_MAX_TEXT) {
            ragd_error(resp, 400, "input", "input[%zu]: longer than %d bytes", i, EMBED_MAX_TEXT);
            rag_free(texts);
            return;
        }
    const char *format = "float", *kind = "document";
    long want_dims = dims;
    if (ragd_api_string(resp, req->json, "encoding_format", NULL, 16, 0, &format) ||
        ragd_api_string(resp, req->json, "input_type", NULL, 16, 0, &kind) ||
        ragd_api_int(resp, req->json, "dimensions", NULL, 1, 65536, &want_dims)) {
        rag_free(texts);
        return;
    }
    const char *problem = strcmp(format, "float") && strcmp(format, "base64") ? "encoding_format"
                          : strcmp(kind, "document") && strcmp(kind, "query") && strcmp(kind, "raw")
                              ? "input_type"
                          : want_dims != dims ? "dimensions"
                                              : NULL;
    if (problem) {
        if (!strcmp(problem, "dimensions"))
            ragd_error(resp, 400, problem, "dimensions: the model gives %d, not %ld", dims,
                       want_dims);
        else
            ragd_error(resp, 400, problem, "%s: '%s' is not one of %s", problem,
                       !strcmp(problem, "input_type") ? kind : format,
                       !strcmp(problem, "input_type") ? "document, query, raw" : "float, base64");
        rag_free(texts);
        return;
    }
    emb_input ek = !strcmp(kind, "query") ? EMB_QUERY
                   : !strcmp(kind, "raw") ? EMB_RAW
                                          : EMB_DOCUMENT;
    float *vec = rag_xmalloc(n * (size_t)dims * sizeof *vec);
    size_t tokens = 0;
    rag_err err = {0};
    double t0 = rag_now_s();
    if (ragd_engine_embed(req->engine, texts, n, ek, vec, &tokens, &err)) {
        ragd_error_from(resp, &err);
    } else {
        ragd_meter_stage(req->meter, "embed", rag_now_s() - t0);
        ragd_meter_embedded(req->meter, tokens);
        resp->json = cJSON_CreateObject();
        cJSON_AddStringToObject(resp->json, "object", "list");
        cJSON *data = cJSON_AddArrayToObject(resp->json, "data");
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "object", "embedding");
            cJSON_AddNumberToObject(o, "index", (double)i);
            const float *v = vec + i * (size_t)dims;
            if (!strcmp(format, "base64")) { /* little-endian float32, as OpenAI sends */
                char *b = base64((const unsigned char *)v, (size_t)dims * sizeof *v);
                cJSON_AddStringToObject(o, "embedding", b);
                rag_free(b);
            } else {
                cJSON *arr = cJSON_AddArrayToObject(o, "embedding");
                for (int d = 0; d < dims; d++)
                    cJSON_AddItemToArray(arr, cJSON_CreateNumber(v[d]));
            }
            cJSON_AddItemToArray(data, o);
        }
        cJSON_AddStringToObject(resp->json, "model", ragd_engine_get_info(req->engine)->embed_name);
        cJSON *u = cJSON_AddObjectToObject(resp->json, "usage");
        cJSON_AddNumberToObject(u, "prompt_tokens", (double)tokens);
        cJSON_AddNumberToObject(u, "total_tokens", (double)tokens);
    }
    rag_free(vec);
    rag_free(texts);
}
