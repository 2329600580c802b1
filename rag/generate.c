/* rag/generate.c: generation through the streaming citation check, by a
 * local model or a remote server, and where the models are (see
 * rag/generate.h).
 *
 * Remote generation: the prompt's messages go to POST {url}/chat/completions
 * with "stream": true; the answer comes back as server-sent events
 * (rag/sse.c), each a chat.completion.chunk whose choices[0].delta.content
 * is the next piece of text, and whose choices[0].finish_reason, on the
 * last one, says why it ended; a chunk with "usage" (asked for with
 * stream_options) carries the server's token counts; "data: [DONE]" ends
 * the stream. Every event is untrusted: its size is bounded, its JSON types
 * checked. An "error" object in the stream, an event that is not a JSON
 * object, an answer that is not an event stream, or a stream that ends
 * before a finish_reason or [DONE] is an error naming the server. A caller
 * that stops the text (on_text returns non-zero) ends the transfer: the
 * server sees the connection close. Several servers (a pool, net/pool.c):
 * see generate_remote.
 *
 * Reasoning: a server that splits it off itself sends it as
 * delta.reasoning_content (llama.cpp's server, vLLM) or delta.reasoning
 * (as some others name it), kept as reasoning; one that does not leaves
 * <think>...</think> in delta.content, split here as a local model's text
 * is (a reply that starts with <think>; one whose template opened the
 * block, so that only </think> comes, is not told apart: all answer).
 * The request says whether the model may think, as vLLM and llama.cpp's
 * server read it ("chat_template_kwargs": {"enable_thinking": ...}) and
 * as another ragd does ("rag": {"reasoning": ...}). */
#include "rag/generate.h"
#include "base/buf.h"
#include "base/mem.h"
#include "base/time.h"
#include "net/net.h"
#include "rag/sse.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct rag_gen_run run;
struct rag_gen_run {
    int grounded;
    rag_citestream cs;
    llm_think think;   /* the model's text: reasoning, then the answer */
    rag_buf raw;       /* the answer as the model wrote it */
    rag_buf reasoning; /* what it thought first */
    rag_stream_fn on_text, on_reasoning;
    void *ctx;
    int stop;
    int sent; /* text went out to the caller: the answer cannot be started again */
    /* the reasoning's tokens: a local context and its prompt's length (the
     * count is taken when the block closes), or the server's count */
    const llm_context *c;
    size_t n_prompt;
    int n_reasoning, remote_reasoning; /* -1: not known */
};

static void pass_on(void *p, const char *text, size_t len)
{
    run *r = p;
    if (len) r->sent = 1;
    if (r->on_text && !r->stop) r->stop = r->on_text(r->ctx, text, len);
}

/* A piece of reasoning or of the answer, from the splitter. */
static void on_split(void *p, int reasoning, const char *text, size_t len)
{
    run *r = p;
    if (reasoning) {
        rag_buf_append(&r->reasoning, text, len);
        r->sent = 1;
        if (r->on_reasoning && !r->stop) r->stop = r->on_reasoning(r->ctx, text, len);
        return;
    }
    rag_buf_append(&r->raw, text, len);
    if (r->grounded)
        rag_citestream_feed(&r->cs, text, len, pass_on, r);
    else
        pass_on(r, text, len);
}

static int on_model_text(void *p, const char *text, size_t len)
{
    run *r = p;
    llm_think_feed(&r->think, text, len, on_split, r);
    /* local: the token whose text closed the block is the last of the
     * reasoning (the context holds the prompt and the tokens before it) */
    if (r->think.closed && r->n_reasoning < 0 && r->c)
        r->n_reasoning = llm_context_n_past(r->c) - (int)r->n_prompt + 1;
    return r->stop;
}

/* Reasoning a server sent apart from the answer. */
static void on_server_reasoning(run *r, const char *text, size_t len)
{
    /* the content after it is the answer (its leading blank lines dropped) */
    if (r->think.state == LLM_THINK_START && !r->think.held.len) r->think.state = LLM_THINK_AFTER;
    on_split(r, 1, text, len);
}

static int generate_local(const rag_generator *g, const rag_prompt *pr,
                          const llm_gen_params *params, run *r, llm_gen_stats *st, rag_err *err)
{
    llm_context *c = g->ctx;
    llm_gen_params gp = *params;
    gp.batcher = g->batcher;
    /* what the last answer in this context left in its cache and this
     * prompt share (the instructions, earlier turns) is not computed again;
     * for another key's answer, only what is public of it */
    int n = (int)pr->tokens.n, kept = 0, upto = n; /* reuse keeps fewer than upto */
    if (!g->reuse) {
        int pub = 0;
        while ((size_t)pub < g->n_public && pub < n && pr->tokens.v[pub] == g->public_prefix[pub])
            pub++;
        if (pub + 1 < upto) upto = pub + 1;
    }
    /* at least LLM_PASS_MIN tokens computed, so that the answer is the one
     * the prompt gives in one pass (llm/model.h); a shorter prompt all */
    if (upto > n - LLM_PASS_MIN + 1) upto = n >= LLM_PASS_MIN ? n - LLM_PASS_MIN + 1 : 1;
    kept = llm_context_reuse(c, pr->tokens.v, upto);
    r->c = c;
    r->n_prompt = pr->tokens.n;
    int rc = llm_generate(c, pr->tokens.v + kept, pr->tokens.n - (size_t)kept, &gp, on_model_text,
                          r, st, err);
    st->n_prompt += kept;
    st->n_reused = kept;
    return rc;
}

/* ---- remote ----------------------------------------------------------------------- */

enum { EVENT_MAX = 1 << 20 }; /* bytes of one event: a chunk carries a few tokens */

/* The state of one remote answer. */
typedef struct remote {
    run *r;
    const char *url; /* the endpoint, for messages */
    rag_sse sse;
    int typed;    /* the Content-Type was checked */
    int done;     /* data: [DONE] came */
    int finished; /* a finish_reason came */
    llm_stop_reason finish;
    long n_prompt, n_generated; /* the server's usage; -1 until it sends it */
    double t0, t_first;         /* t_first: the first text, -1 before */
    rag_err why;                /* what was wrong with the answer, when something was */
} remote;

/* The server's counts, when a chunk carries "usage" (reasoning tokens as
 * OpenAI names them: completion_tokens_details.reasoning_tokens). */
static void read_usage(remote *rm, const cJSON *u)
{
    if (!cJSON_IsObject(u)) return;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens_details");
    const cJSON *t =
        cJSON_IsObject(d) ? cJSON_GetObjectItemCaseSensitive(d, "reasoning_tokens") : NULL;
    if (cJSON_IsNumber(p) && p->valuedouble >= 0 && p->valuedouble < 1e9)
        rm->n_prompt = (long)p->valuedouble;
    if (cJSON_IsNumber(g) && g->valuedouble >= 0 && g->valuedouble < 1e9)
        rm->n_generated = (long)g->valuedouble;
    if (cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble < 1e9)
        rm->r->remote_reasoning = (int)t->valuedouble;
}

/* One chat.completion.chunk (or an error object in the stream). */
static int read_chunk(remote *rm, const cJSON *o)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (e && !cJSON_IsNull(e)) {
        const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
        return rag_err_set(&rm->why, RAG_ERR_NET, "generator server %s: %.160s", rm->url,
                           cJSON_IsString(m) ? m->valuestring : "an error in the stream");
    }
    read_usage(rm, cJSON_GetObjectItemCaseSensitive(o, "usage"));
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(o, "choices");
    if (choices && !cJSON_IsArray(choices) && !cJSON_IsNull(choices))
        return rag_err_set(&rm->why, RAG_ERR_FORMAT,
                           "generator server %s: 'choices' is not an array", rm->url);
    const cJSON *c = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    if (!c) return 0; /* the usage chunk, or a keep-alive */
    const cJSON *delta = cJSON_IsObject(c) ? cJSON_GetObjectItemCaseSensitive(c, "delta") : NULL;
    const cJSON *text =
        cJSON_IsObject(delta) ? cJSON_GetObjectItemCaseSensitive(delta, "content") : NULL;
    if (!cJSON_IsObject(c) || (text && !cJSON_IsString(text) && !cJSON_IsNull(text)))
        return rag_err_set(&rm->why, RAG_ERR_FORMAT,
                           "generator server %s: a chunk whose delta.content is not text", rm->url);
    static const char *const thought[] = {"reasoning_content", "reasoning"};
    for (size_t i = 0; i < 2 && cJSON_IsObject(delta); i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(delta, thought[i]);
        if (t && !cJSON_IsString(t) && !cJSON_IsNull(t))
            return rag_err_set(&rm->why, RAG_ERR_FORMAT,
                               "generator server %s: a chunk whose delta.%s is not text", rm->url,
                               thought[i]);
        if (!cJSON_IsString(t) || !*t->valuestring) continue;
        if (rm->t_first < 0) rm->t_first = rag_now_ms();
        on_server_reasoning(rm->r, t->valuestring, strlen(t->valuestring));
        break; /* a server that sends both sends the same text twice */
    }
    if (cJSON_IsString(text) && *text->valuestring) {
        if (rm->t_first < 0) rm->t_first = rag_now_ms();
        on_model_text(rm->r, text->valuestring, strlen(text->valuestring));
    }
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(c, "finish_reason");
    if (cJSON_IsString(fin)) {
        rm->finished = 1;
        rm->finish = !strcmp(fin->valuestring, "length") ? LLM_STOP_LENGTH : LLM_STOP_EOG;
    }
    return 0;
}

static int on_event(void *p, const char *data, size_t len)
{
    remote *rm = p;
    if (rm->done) return 0;
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        rm->done = 1;
        return 0;
    }
    cJSON *o = cJSON_ParseWithLength(data, len);
    int rc = cJSON_IsObject(o)
                 ? read_chunk(rm, o)
                 : rag_err_set(&rm->why, RAG_ERR_FORMAT,
                               "generator server %s: an event of the stream is not a JSON object",
                               rm->url);
    cJSON_Delete(o);
    return rc ? 1 : rm->r->stop;
}

static int on_body(void *p, const net_response *resp, const char *data, size_t len)
{
    remote *rm = p;
    if (!rm->typed) { /* a wrong URL can answer 200 with a web page */
        rm->typed = 1;
        if (!resp->content_type || strncasecmp(resp->content_type, "text/event-stream", 17)) {
            rag_err_set(&rm->why, RAG_ERR_FORMAT,
                        "generator server %s: the answer is %.60s, not a stream of events", rm->url,
                        resp->content_type ? resp->content_type : "untyped");
            return 1;
        }
    }
    int rc = rag_sse_feed(&rm->sse, data, len, on_event, rm);
    if (rc == RAG_ERR_LIMIT)
        rag_err_set(&rm->why, RAG_ERR_LIMIT, "generator server %s: an event of more than %d bytes",
                    rm->url, EVENT_MAX);
    return rc != 0;
}

/* While the server is silent (a long prompt, a busy server), curl still
 * calls this about once a second: the caller is asked, with no text,
 * whether to stop, so a cancellation does not wait for the next token. */
static int on_progress(void *p, uint64_t done, uint64_t total)
{
    run *r = p;
    (void)done, (void)total;
    if (r->on_text && !r->stop) r->stop = r->on_text(r->ctx, "", 0);
    return r->stop;
}

/* The request (free with cJSON_free), or NULL when cJSON cannot allocate. */
static char *chat_body(const rag_backend *b, const rag_prompt *pr, const llm_gen_params *gp)
{
    const llm_sampler_params *s = &gp->sampling;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", b->model);
    cJSON *msgs = cJSON_AddArrayToObject(o, "messages");
    for (size_t i = 0; i < pr->n_messages; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", pr->messages[i].role);
        cJSON_AddStringToObject(m, "content", pr->messages[i].content);
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON_AddBoolToObject(o, "stream", 1);
    /* within the ranges OpenAI's schema allows (our sampler takes more) */
    cJSON_AddNumberToObject(o, "temperature",
                            s->temperature < 0   ? 0
                            : s->temperature > 2 ? 2
                                                 : s->temperature);
    cJSON_AddNumberToObject(o, "top_p", s->top_p > 0 && s->top_p < 1 ? s->top_p : 1);
    cJSON_AddNumberToObject(o, "max_tokens", gp->n_predict);
    if (gp->n_stop) {
        cJSON *stop = cJSON_AddArrayToObject(o, "stop");
        for (size_t i = 0; i < gp->n_stop; i++)
            cJSON_AddItemToArray(stop, cJSON_CreateString(gp->stop[i]));
    }
    cJSON_AddNumberToObject(o, "seed",
                            (double)(s->seed & ((1ULL << 53) - 1))); /* exact in a JSON number */
    if (s->presence_penalty != 0)
        cJSON_AddNumberToObject(o, "presence_penalty", fmax(-2, fmin(2, s->presence_penalty)));
    if (s->frequency_penalty != 0)
        cJSON_AddNumberToObject(o, "frequency_penalty", fmax(-2, fmin(2, s->frequency_penalty)));
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(o, "stream_options"), "include_usage", 1);
    /* whether a reasoning model may think (servers whose model's template
     * has no such switch ignore it) */
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(o, "chat_template_kwargs"), "enable_thinking",
                          pr->reasoning);
    /* When the server is another ragd, it would answer from its own
     * documents: "retrieval": false makes it a plain model for our prompt,
     * which already holds our context. Other servers ignore the field. */
    cJSON *rag = cJSON_AddObjectToObject(o, "rag");
    cJSON_AddBoolToObject(rag, "retrieval", 0);
    cJSON_AddBoolToObject(rag, "reasoning", pr->reasoning);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return body;
}

/* How the transfer ended, in one error code (and *err): the answer's own
 * faults first, then a stop the caller asked for (not an error), then the
 * transfer's. *broke: the server failed (the connection, a timeout, 408,
 * 429, 5xx, a stream cut short), rather than answered wrongly. */
static int remote_outcome(remote *rm, const net_response *resp, int rc, int *broke, rag_err *err)
{
    *broke = 0;
    if (!rc && rag_sse_end(&rm->sse, on_event, rm) == RAG_ERR_LIMIT)
        rag_err_set(&rm->why, RAG_ERR_LIMIT, "generator server %s: an event of more than %d bytes",
                    rm->url, EVENT_MAX);
    if (rm->why.code) {
        if (err) *err = rm->why;
        return rm->why.code;
    }
    if (rm->r->stop) {
        rag_err_clear(err);
        return 0;
    }
    if (!rc && !rm->done && !rm->finished) {
        *broke = 1;
        return rag_err_set(err, RAG_ERR_NET,
                           "generator server %s: the stream ended before the answer did", rm->url);
    }
    *broke = rc && resp->transient;
    return rc;
}

/* One attempt at server i of the pool; rm is set up here and left for the
 * caller's statistics (free its sse). */
static int remote_attempt(const rag_backend *b, net_pool *pool, int i, const char *body,
                          int retries, run *r, remote *rm, int *broke, rag_err *err)
{
    const char *base = net_pool_url(pool, i), *label = net_pool_label(pool, i);
    size_t ul = strlen(base), ll = strlen(label);
    while (ul && base[ul - 1] == '/')
        ul--;
    while (ll && label[ll - 1] == '/')
        ll--;
    char *url = rag_xasprintf("%.*s/chat/completions", (int)ul, base);
    char *shown = rag_xasprintf("%.*s/chat/completions", (int)ll, label);
    double t0 = rm->t0;
    *rm = (remote){.r = r,
                   .url = shown,
                   .finish = LLM_STOP_EOG,
                   .n_prompt = -1,
                   .n_generated = -1,
                   .t0 = t0,
                   .t_first = -1};
    rag_sse_init(&rm->sse, EVENT_MAX);
    static const char *const headers[] = {"Accept: text/event-stream", NULL};
    net_request rq;
    net_request_init(&rq, url);
    rq.body = body;
    rq.body_len = strlen(body);
    rq.headers = headers;
    rq.bearer = b->api_key;
    rq.timeout = b->timeout;
    rq.retries = retries;
    rq.on_body = on_body;
    rq.body_ctx = rm;
    rq.on_progress = on_progress;
    rq.progress_ctx = r;
    rq.what = "generator server";
    net_response resp;
    int rc = net_fetch(&rq, &resp, err);
    rc = remote_outcome(rm, &resp, rc, broke, err);
    net_response_free(&resp);
    rag_free(url);
    rm->url = NULL;
    rag_free(shown);
    return rc;
}

/* With several servers (b->url a list), each answer goes to the least busy
 * one that is up; one that fails (see net/pool.c) before any text of the
 * answer went out to the caller (through the citation filter: r->sent) is
 * marked down and the next one is tried, each once. Once text went out, a
 * failure is the caller's: the answer cannot be taken back. */
static int generate_remote(const rag_generator *g, const rag_prompt *pr, const llm_gen_params *gp,
                           run *r, llm_gen_stats *st, rag_err *err)
{
    const rag_backend *b = g->remote;
    net_pool *own = NULL, *pool = b->pool;
    int rc;
    if (!pool && (rc = net_pool_new(b->url ? b->url : "", &own, err))) return rc;
    if (!pool) pool = own;
    char *body = chat_body(b, pr, gp);
    if (!body) {
        net_pool_free(own);
        return rag_err_set(err, RAG_ERR_NOMEM, "generator server: cannot build a request");
    }
    size_t n = net_pool_size(pool);
    int retries = n > 1 ? 0 : b->retries; /* several: the others are the retries */
    remote rm = {.t0 = rag_now_ms()};
    uint32_t tried = 0;
    int i, servers = 0;
    rc = RAG_ERR_NET;
    while ((i = net_pool_acquire(pool, &tried, rag_now_ms())) >= 0) {
        if (servers++) rag_sse_free(&rm.sse);
        int broke = 0;
        rc = remote_attempt(b, pool, i, body, retries, r, &rm, &broke, err);
        net_pool_release(pool, i,
                         !rc     ? NET_POOL_OK
                         : broke ? NET_POOL_DOWN
                                 : NET_POOL_FAIL,
                         rag_now_ms());
        if (!rc || !broke || r->sent || r->stop) break;
        /* nothing went out: what the citation filter may hold is dropped
         * and the answer starts again on the next server */
        rag_buf_clear(&r->raw);
        rag_buf_clear(&r->reasoning);
        rag_citestream_free(&r->cs);
        rag_citestream_init(&r->cs, pr->n_blocks);
        llm_think_free(&r->think);
        llm_think_init(&r->think, pr->chat.think_open);
        r->remote_reasoning = -1;
    }
    if (!rc) rag_err_clear(err); /* what a failed server said is past */
    size_t len = rc && err ? strlen(err->msg) : 0;
    if (rc && err && servers > 1 && len + 24 < sizeof err->msg)
        snprintf(err->msg + len, sizeof err->msg - len, " (%d servers tried)", servers);
    double t_end = rag_now_ms();
    st->n_prompt = rm.n_prompt >= 0 ? (int)rm.n_prompt : (int)pr->n_tokens;
    st->n_generated =
        rm.n_generated >= 0 ? (int)rm.n_generated : (int)((r->raw.len + r->reasoning.len + 3) / 4);
    st->prompt_ms = (rm.t_first >= 0 ? rm.t_first : t_end) - rm.t0;
    st->gen_ms = rm.t_first >= 0 ? t_end - rm.t_first : 0;
    st->stop = r->stop ? LLM_STOP_CANCEL : rm.finish;
    if (servers) rag_sse_free(&rm.sse);
    cJSON_free(body);
    net_pool_free(own);
    return rc;
}

/* Of the answer's n generated tokens, those of its reasoning. */
static int reasoning_tokens(const run *r, int n)
{
    int t = 0;
    if (r->remote_reasoning >= 0)
        t = r->remote_reasoning;
    else if (r->c) /* all of them when the block never closed */
        t = r->think.closed ? r->n_reasoning : r->think.state == LLM_THINK_IN ? n : 0;
    else /* a server that did not count them: estimated as its answer is (bytes / 4) */
        t = (int)((r->reasoning.len + 3) / 4);
    return t < 0 ? 0 : t < n ? t : n;
}

int rag_generate(const rag_generator *g, const rag_prompt *pr, int grounded,
                 const llm_gen_params *gp, rag_stream_fn on_text, rag_stream_fn on_reasoning,
                 void *ctx, rag_generation *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    if (!g->ops) return rag_err_set(err, RAG_ERR_INVALID, "no generator (rag_gen_model_generator)");
    run r = {.grounded = grounded,
             .on_text = on_text,
             .on_reasoning = on_reasoning,
             .ctx = ctx,
             .n_reasoning = -1,
             .remote_reasoning = -1};
    rag_citestream_init(&r.cs, pr->n_blocks);
    llm_think_init(&r.think, pr->chat.think_open);
    int rc = g->ops->generate(g, pr, gp, &r, &out->stats, err);
    if (!rc) {
        llm_think_flush(&r.think, on_split, &r);
        rag_citestream_flush(&r.cs, pass_on, &r);
        if (grounded) {
            rag_citations_check(rag_buf_str(&r.raw), pr->n_blocks, &out->check);
        } else {
            out->check.text = rag_xstrdup(rag_buf_str(&r.raw));
        }
        out->n_reasoning = reasoning_tokens(&r, out->stats.n_generated);
        if (r.reasoning.len) out->reasoning = rag_buf_steal(&r.reasoning);
    }
    llm_think_free(&r.think);
    rag_citestream_free(&r.cs);
    rag_buf_free(&r.raw);
    rag_buf_free(&r.reasoning);
    return rc;
}

int rag_reasoning_default(const char *setting, int grounded)
{
    if (setting && !strcmp(setting, "on")) return 1;
    if (setting && !strcmp(setting, "off")) return 0;
    return !grounded;
}

const rag_gen_ops rag_gen_local = {"local", generate_local};
const rag_gen_ops rag_gen_remote = {"remote", generate_remote};

void rag_generation_free(rag_generation *g)
{
    rag_citecheck_free(&g->check);
    rag_free(g->reasoning);
    memset(g, 0, sizeof *g);
}
