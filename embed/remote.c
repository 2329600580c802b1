/* embed/remote.c: an embedding model behind an OpenAI-compatible server
 * (Ollama, vLLM, llama.cpp's server, another ragd), used through the same
 * emb_model handle as a local encoder.
 *
 * Texts go in batches to POST {url}/embeddings as
 *   {"model", "input": [...], "encoding_format": "float", "input_type"}
 * and come back as {"data": [{"index", "embedding": [...]}, ...]}. The answer
 * is untrusted: its size is capped before it is read, every field's type is
 * checked, every input must come back exactly once (data[].index, or the
 * position when a server leaves it out), and every vector must have the
 * dimension learned at open from one short probe input, the dimension the
 * database records.
 *
 * "input_type" is not part of OpenAI's schema: ragd reads it (which of its
 * model's prefixes to add: query, document, or none for raw); other servers
 * ignore fields they do not know and apply their own conventions.
 *
 * Token counts are estimates: bytes / 4, rounded up (the usual rule for
 * BPE vocabularies on English text; it never shrinks when a text is cut, so
 * the chunker's sums stay bounds). The server's own count, when it sends
 * usage.prompt_tokens, goes into the statistics. */
#include "embed/emb_int.h"
#include "base/buf.h"
#include "base/hash.h"
#include "base/mem.h"
#include "base/time.h"
#include "net/net.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
    REMOTE_MAX_DIMS = 16384, /* more values than this is not an embedding */
    REMOTE_MAX_BATCH = 256,  /* inputs per request, at most */
    REMOTE_VALUE_BYTES = 32, /* generous for one number in JSON: caps an answer */
    REMOTE_MODEL_MAX = 256,
};

struct emb_remote {
    net_pool *pool; /* the servers: POST {url}/embeddings */
    char *model;
    char *api_key; /* NULL: none */
    double timeout;
    int retries, batch;
};

void emb_remote_default_params(emb_remote_params *p)
{
    memset(p, 0, sizeof *p);
    p->max_tokens = 512;
    p->timeout = 60;
    p->retries = 3;
    p->batch = 64;
}

static size_t remote_count_tokens(const emb_model *m, const char *text, size_t n)
{
    (void)m, (void)text;
    return (n + 3) / 4;
}

void emb_remote_free(emb_remote *r)
{
    if (!r) return;
    net_pool_free(r->pool);
    rag_free(r->model);
    rag_free(r->api_key);
    rag_free(r);
}

/* What ragd makes of each kind (see the file comment). */
static const char *input_type(emb_input kind)
{
    return kind == EMB_QUERY ? "query" : kind == EMB_DOCUMENT ? "document" : "raw";
}

/* The request body for texts[0..n) (free with cJSON_free), or NULL when
 * cJSON cannot allocate. */
static char *request_body(const emb_remote *r, const char *const *texts, size_t n, emb_input kind)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "model", r->model);
    cJSON *in = cJSON_AddArrayToObject(req, "input");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(in, cJSON_CreateString(texts[i]));
    cJSON_AddStringToObject(req, "encoding_format", "float");
    cJSON_AddStringToObject(req, "input_type", input_type(kind));
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return body;
}

/* One element of "data": its vector goes to out[index x dims]. *dims is 0
 * at the probe, which learns it. */
static int read_item(const char *ep, const cJSON *item, size_t pos, size_t n, uint8_t *seen,
                     float *out, int *dims, rag_err *err)
{
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(item, "index");
    const cJSON *vec = cJSON_GetObjectItemCaseSensitive(item, "embedding");
    size_t at = pos;
    if (idx) {
        if (!cJSON_IsNumber(idx) || idx->valuedouble < 0 || idx->valuedouble >= (double)n ||
            idx->valuedouble != floor(idx->valuedouble))
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "embedding server %s: data[%zu].index is not an input's index", ep,
                               pos);
        at = (size_t)idx->valuedouble;
    }
    if (seen[at])
        return rag_err_set(err, RAG_ERR_FORMAT, "embedding server %s: input %zu came back twice",
                           ep, at);
    seen[at] = 1;
    if (!cJSON_IsArray(vec))
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "embedding server %s: data[%zu].embedding is not an array of numbers",
                           ep, pos);
    int count = cJSON_GetArraySize(vec);
    if (!*dims && (count < 1 || count > REMOTE_MAX_DIMS))
        return rag_err_set(
            err, RAG_ERR_FORMAT,
            "embedding server %s: data[%zu].embedding has %d values (1 to %d expected)", ep, pos,
            count, REMOTE_MAX_DIMS);
    if (!*dims) *dims = count;
    if (count != *dims)
        return rag_err_set(
            err, RAG_ERR_FORMAT,
            "embedding server %s: data[%zu].embedding has %d values, not the model's %d", ep, pos,
            count, *dims);
    float *dst = out + at * (size_t)*dims;
    const cJSON *v;
    cJSON_ArrayForEach(v, vec)
    {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 3.4e38)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "embedding server %s: data[%zu].embedding holds a non-number", ep,
                               pos);
        *dst++ = (float)v->valuedouble;
    }
    return 0;
}

/* The n elements of "data", each input exactly once. */
static int read_items(const char *ep, const cJSON *data, size_t n, float *out, int *dims,
                      rag_err *err)
{
    uint8_t *seen = rag_xcalloc(n ? n : 1, 1);
    size_t pos = 0;
    int rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, data)
    {
        if ((rc = read_item(ep, item, pos++, n, seen, out, dims, err))) break;
    }
    rag_free(seen);
    return rc;
}

/* Reads an answer for n inputs into out[n x *dims]; *tokens gets the
 * server's usage.prompt_tokens when it sends one. */
static int read_answer(const char *ep, const rag_buf *body, size_t n, float *out, int *dims,
                       uint64_t *tokens, rag_err *err)
{
    cJSON *root = cJSON_ParseWithLength(body->data ? body->data : "", body->len);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    int rc = 0;
    if (!cJSON_IsObject(root) || !cJSON_IsArray(data))
        rc = rag_err_set(err, RAG_ERR_FORMAT,
                         "embedding server %s: the answer is not {\"data\": [...]}", ep);
    else if ((size_t)cJSON_GetArraySize(data) != n)
        rc = rag_err_set(err, RAG_ERR_FORMAT, "embedding server %s: %d embeddings for %zu inputs",
                         ep, cJSON_GetArraySize(data), n);
    if (!rc) rc = read_items(ep, data, n, out, dims, err);
    const cJSON *used = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "usage"), "prompt_tokens");
    if (!rc && cJSON_IsNumber(used) && used->valuedouble >= 0 && used->valuedouble < 1e15)
        *tokens = (uint64_t)used->valuedouble;
    cJSON_Delete(root);
    return rc;
}

/* One attempt of a batch at server i of the pool. *broke: the server
 * failed (see net_response.transient), rather than answered wrongly. */
static int post_to(emb_model *m, int i, const char *body, size_t n, float *out, int *dims,
                   uint64_t *tokens, int *broke, rag_err *err)
{
    const emb_remote *r = m->remote;
    const char *base = net_pool_url(r->pool, i), *label = net_pool_label(r->pool, i);
    size_t ul = strlen(base), ll = strlen(label);
    while (ul && base[ul - 1] == '/')
        ul--;
    while (ll && label[ll - 1] == '/')
        ll--;
    char *url = rag_xasprintf("%.*s/embeddings", (int)ul, base);
    char *ep = rag_xasprintf("%.*s/embeddings", (int)ll, label);
    net_request rq;
    net_request_init(&rq, url);
    rq.body = body;
    rq.body_len = strlen(body);
    rq.bearer = r->api_key;
    rq.timeout = r->timeout;
    rq.retries = net_pool_size(r->pool) > 1 ? 0 : r->retries; /* several: the others retry */
    rq.max_bytes =
        (uint64_t)n * (uint64_t)(*dims ? *dims : REMOTE_MAX_DIMS) * REMOTE_VALUE_BYTES + 65536;
    rq.what = "embedding server";
    net_response resp;
    int rc = net_fetch(&rq, &resp, err);
    *broke = rc && resp.transient;
    if (!rc) rc = read_answer(ep, &resp.body, n, out, dims, tokens, err);
    net_response_free(&resp);
    rag_free(url);
    rag_free(ep);
    return rc;
}

/* Embeds texts[0..n) (one request) into out[n x *dims]: at the least busy
 * server that is up; one that fails (a connection, a timeout, 408, 429,
 * 5xx) is marked down and the next is tried, each once (net/pool.c). */
static int post_batch(emb_model *m, const char *const *texts, size_t n, emb_input kind, float *out,
                      int *dims, rag_err *err)
{
    emb_remote *r = m->remote;
    char *body = request_body(r, texts, n, kind);
    if (!body) return rag_err_set(err, RAG_ERR_NOMEM, "embedding server: cannot build a request");
    uint64_t tokens = 0;
    for (size_t i = 0; i < n; i++)
        tokens += remote_count_tokens(m, texts[i], strlen(texts[i]));
    uint32_t tried = 0;
    int i, servers = 0, rc = RAG_ERR_NET;
    while ((i = net_pool_acquire(r->pool, &tried, rag_now_s() * 1e3)) >= 0) {
        servers++;
        int broke = 0;
        rc = post_to(m, i, body, n, out, dims, &tokens, &broke, err);
        net_pool_release(r->pool, i,
                         !rc     ? NET_POOL_OK
                         : broke ? NET_POOL_DOWN
                                 : NET_POOL_FAIL,
                         rag_now_s() * 1e3);
        if (!rc || !broke) break;
    }
    cJSON_free(body);
    if (!rc) {
        rag_err_clear(err); /* what a failed server said is past */
        m->n_tokens_done += tokens;
    }
    size_t len = rc && err ? strlen(err->msg) : 0;
    if (rc && err && servers > 1 && len + 24 < sizeof err->msg)
        snprintf(err->msg + len, sizeof err->msg - len, " (%d servers tried)", servers);
    return rc;
}

static int remote_embed(emb_model *m, const char *const *texts, size_t n, emb_input kind,
                        int normalize, float *out, uint8_t *truncated, rag_err *err)
{
    if (truncated) memset(truncated, 0, n); /* the server cuts what it must */
    double t0 = rag_now_s();
    int rc = 0;
    size_t batch = (size_t)m->remote->batch;
    for (size_t i = 0; i < n && !rc; i += batch) {
        int dims = m->n_embd;
        rc = post_batch(m, texts + i, n - i < batch ? n - i : batch, kind, out + i * (size_t)dims,
                        &dims, err);
    }
    for (size_t i = 0; !rc && normalize && i < n; i++)
        emb_normalize(out + i * (size_t)m->n_embd, m->n_embd);
    m->seconds += rag_now_s() - t0;
    return rc;
}

static int check_params(const emb_remote_params *rp, rag_err *err)
{
    rag_err e = {0};
    if (!rp->url || net_url_list_check(rp->url, &e))
        return rag_err_set(err, RAG_ERR_INVALID, "embedding server: %s",
                           rp->url ? e.msg : "no URL");
    char *shown = net_url_list_public(rp->url);
    int rc = 0;
    if (!rp->model || !*rp->model || strlen(rp->model) > REMOTE_MODEL_MAX)
        rc = rag_err_set(err, RAG_ERR_INVALID,
                         "embedding server %.200s: the model to ask for is not set (remote_model)",
                         shown);
    else if (rp->max_tokens < 0 || rp->batch < 0 || rp->retries < 0 || rp->timeout < 0)
        rc = rag_err_set(err, RAG_ERR_INVALID, "embedding server %.200s: negative limits", shown);
    rag_free(shown);
    return rc;
}

int emb_model_open_remote(const emb_remote_params *rp, emb_model **out, rag_err *err)
{
    *out = NULL;
    int rc = check_params(rp, err);
    if (rc) return rc;
    emb_model *m = rag_xcalloc(1, sizeof *m);
    m->ops = &emb_remote_ops;
    emb_remote *r = m->remote = rag_xcalloc(1, sizeof *r);
    net_pool_new(rp->url, &r->pool, NULL); /* checked above */
    r->model = rag_xstrdup(rp->model);
    r->api_key = rp->api_key && *rp->api_key ? rag_xstrdup(rp->api_key) : NULL;
    r->timeout = rp->timeout > 0 ? rp->timeout : 60;
    r->retries = rp->retries;
    r->batch = rp->batch > 0 ? (rp->batch < REMOTE_MAX_BATCH ? rp->batch : REMOTE_MAX_BATCH) : 64;
    m->n_ctx = rp->max_tokens > 0 ? rp->max_tokens : 512;
    /* the probe: the dimension, and a server that answers */
    const char *probe = "dimension probe";
    float *v = rag_xmalloc(REMOTE_MAX_DIMS * sizeof *v);
    int dims = 0;
    rc = post_batch(m, &probe, 1, EMB_QUERY, v, &dims, err);
    rag_free(v);
    if (rc) {
        emb_model_close(m);
        return rc;
    }
    m->n_embd = dims;
    emb_identity *id = &m->id;
    snprintf(id->name, sizeof id->name, "%s", rp->model);
    char *key = rag_xasprintf("openai-compatible:%s", rp->model);
    rag_sha256_hex(key, strlen(key), id->file_sha256);
    rag_free(key);
    id->dims = dims;
    id->pooling = EMB_POOL_REMOTE;
    id->normalized = 1;
    *out = m;
    return 0;
}

static int remote_rerank(emb_model *m, const char *query, const char *const *passages, size_t n,
                         float *scores, rag_err *err)
{
    (void)query, (void)passages, (void)n, (void)scores;
    return rag_err_set(err, RAG_ERR_UNSUPPORTED, "%s: a remote embedding model cannot rerank",
                       m->id.name);
}

const emb_ops emb_remote_ops = {"remote", remote_count_tokens, remote_embed, remote_rerank};

const net_pool *emb_model_pool(const emb_model *m)
{
    return m && m->remote ? m->remote->pool : NULL;
}
