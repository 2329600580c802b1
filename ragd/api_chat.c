/* ragd/api_chat.c: POST /v1/chat/completions (OpenAI's schema).
 *
 * By default the last user message is answered from the documents the key
 * may see: it is the retrieval query; earlier user and assistant turns go
 * into the prompt as history (newest first, within half the budget); the
 * client's system messages are added after our grounding instructions. The
 * "rag" object of the request tunes this ({"retrieval": false} for plain
 * chat; "k", "rerank", "mode", "labels" narrower than the key's roles).
 *
 * The answer carries its citations: "[n]" in the text (checked as it
 * streams: a marker naming no context block never reaches the client), and
 * a "citations" array. Streamed (stream: true), the events are OpenAI's
 * chat.completion.chunk objects; after the one with finish_reason comes one
 * more with "choices": [] holding usage, citations and timings (as OpenAI
 * sends usage), then "data: [DONE]".
 *
 * Without a generator model the answer is extractive, as `rag ask` gives it.
 * With a remote generator (another server) only the model call moves there:
 * retrieval, the prompt, citations and our stream stay here; its failures
 * are 502 to our client.
 *
 * A reasoning model (Qwen3) thinks first when "rag": {"reasoning": true},
 * or vLLM's "chat_template_kwargs": {"enable_thinking": true}, asks, else
 * as model.reasoning says (auto: off for grounded answers, on for plain
 * chat, the model's own default). Its reasoning never becomes the answer:
 * it streams apart, as llama.cpp's server and vLLM send it
 * (delta.reasoning_content), is message.reasoning_content unstreamed, and
 * its tokens count in usage.completion_tokens and
 * completion_tokens_details.reasoning_tokens.
 *
 * Every answer given (generated, extractive or plain chat; streamed or
 * not; also one cut short by the client leaving or the deadline) is
 * recorded under its id for feedback (record_answer, ragd/answers.h),
 * before its end reaches the client: POST /v1/feedback of the key that got
 * it finds it at once. Recording never fails or delays the answer.
 *
 * Defaults: greedy decoding (temperature 0) for grounded answers, where
 * faithfulness to the sources matters more than variety; 0.7 for plain
 * chat. max_tokens: model.max_tokens, at most server.max_tokens; top_p:
 * model.top_p. */
#include "ragd/api_int.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "rag/answer.h"
#include "rag/converse.h"
#include "rag/generate.h"
#include "rag/render.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { MAX_MESSAGES = 256, MAX_STOPS = 4, MAX_STOP_LEN = 64 };

typedef struct chat_job {
    /* the request, copied: a streamed job outlives it */
    char *question, *user_system;
    llm_chat_msg *history;
    size_t n_history;
    char **stops;
    size_t n_stops;
    llm_gen_params gp;
    int grounded, stream, reasoning;
    char id[64], *model_name;
    char owner[80]; /* the key's name: whose cached prompt may be reused */
    char key_name[65];
    long long created;
    double started, deadline;
    /* retrieval */
    rag_followup fq; /* the retrieval query: a follow-up's rewrite or expansion */
    double rewrite_ms;
    rag_results results;
    char *note;
    const char *retrieval_mode;
    int abstained;      /* the passages the key may see do not answer: rag.answer "none" */
    long k;             /* passages asked for */
    int rerank;         /* reranked */
    double temperature; /* as asked (gp holds it as a float) */
    /* generation */
    rag_prompt prompt;
    ragd_ticket *ticket;
    rag_generation gen;
    double queue_ms, prompt_build_ms;
    double first_token_ms; /* from the request's arrival to the first text of the answer
                              (or of its reasoning) sent to the client, or produced when
                              not streamed; 0 until then */
    int timed_out, failed;
    rag_err err;
    /* where it goes */
    ragd_stream *out;        /* streamed */
    const ragd_request *req; /* not streamed: to notice the client leaving */
    ragd_engine *engine;
    ragd_meter *meter;
    ragd_server *srv;
} chat_job;

static void job_free(chat_job *j)
{
    rag_free(j->question);
    rag_free(j->user_system);
    for (size_t i = 0; i < j->n_history; i++)
        rag_free((char *)j->history[i].content);
    rag_free(j->history);
    for (size_t i = 0; i < j->n_stops; i++)
        rag_free(j->stops[i]);
    rag_free(j->stops);
    rag_free(j->model_name);
    rag_free(j->note);
    rag_followup_free(&j->fq);
    rag_results_free(&j->results);
    rag_prompt_free(&j->prompt);
    rag_generation_free(&j->gen);
    rag_free(j);
}

/* ---- reading the request ---------------------------------------------------------- */

/* A message's content: a string, or parts [{type: "text", text}]. */
static int content_text(ragd_response *resp, const cJSON *m, size_t i, rag_buf *out)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (cJSON_IsString(c)) {
        rag_buf_puts(out, c->valuestring);
        return 0;
    }
    if (cJSON_IsArray(c)) {
        const cJSON *part;
        cJSON_ArrayForEach(part, c)
        {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") ||
                !cJSON_IsString(text)) {
                ragd_error(resp, 400, "messages",
                           "messages[%zu].content: only text parts are supported", i);
                return -1;
            }
            rag_buf_puts(out, text->valuestring);
        }
        return 0;
    }
    ragd_error(resp, 400, "messages", "messages[%zu].content: expected a string", i);
    return -1;
}

static int read_messages(ragd_request *req, ragd_response *resp, chat_job *j)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req->json, "messages");
    int n = cJSON_IsArray(msgs) ? cJSON_GetArraySize(msgs) : -1;
    if (n < 1 || n > MAX_MESSAGES) {
        ragd_error(resp, 400, "messages", "messages: expected an array of 1 to %d messages",
                   MAX_MESSAGES);
        return -1;
    }
    rag_buf sys = {0};
    j->history = rag_xcalloc((size_t)n, sizeof *j->history);
    size_t i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
            ragd_error(resp, 400, "messages", "messages[%zu]: expected an object with a 'role'", i);
            rag_buf_free(&sys);
            return -1;
        }
        const char *r = role->valuestring;
        rag_buf text = {0};
        if (content_text(resp, m, i, &text)) {
            rag_buf_free(&sys);
            return -1;
        }
        if (!strcmp(r, "system") || !strcmp(r, "developer")) {
            if (sys.len) rag_buf_puts(&sys, "\n\n");
            rag_buf_puts(&sys, rag_buf_str(&text));
            rag_buf_free(&text);
        } else if (!strcmp(r, "user") || !strcmp(r, "assistant")) {
            j->history[j->n_history++] = (llm_chat_msg){!strcmp(r, "user") ? "user" : "assistant",
                                                        rag_xstrdup(rag_buf_str(&text))};
            rag_buf_free(&text);
        } else {
            rag_buf_free(&text);
            rag_buf_free(&sys);
            ragd_error(resp, 400, "messages",
                       "messages[%zu].role: '%s' is not supported (system, user, assistant)", i, r);
            return -1;
        }
        i++;
    }
    if (!j->n_history || strcmp(j->history[j->n_history - 1].role, "user")) {
        rag_buf_free(&sys);
        ragd_error(resp, 400, "messages", "messages: the last one must be the user's question");
        return -1;
    }
    j->question = (char *)j->history[--j->n_history].content;
    if (!*j->question) {
        rag_buf_free(&sys);
        ragd_error(resp, 400, "messages", "messages: the question is empty");
        return -1;
    }
    if (sys.len) j->user_system = rag_buf_steal(&sys);
    rag_buf_free(&sys);
    return 0;
}

static int read_stops(ragd_response *resp, const cJSON *body, chat_job *j)
{
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(body, "stop");
    if (!stop || cJSON_IsNull(stop)) return 0;
    const cJSON *one = cJSON_IsString(stop) ? stop : NULL;
    int n = one ? 1 : cJSON_IsArray(stop) ? cJSON_GetArraySize(stop) : -1;
    if (n < 0 || n > MAX_STOPS) {
        ragd_error(resp, 400, "stop", "stop: a string or an array of at most %d strings",
                   MAX_STOPS);
        return -1;
    }
    j->stops = rag_xcalloc((size_t)(n ? n : 1), sizeof *j->stops);
    for (int i = 0; i < n; i++) {
        const cJSON *s = one ? one : cJSON_GetArrayItem(stop, i);
        if (!cJSON_IsString(s) || !*s->valuestring || strlen(s->valuestring) > MAX_STOP_LEN) {
            ragd_error(resp, 400, "stop", "stop[%d]: expected a string of 1 to %d bytes", i,
                       MAX_STOP_LEN);
            return -1;
        }
        j->stops[j->n_stops++] = rag_xstrdup(s->valuestring);
    }
    j->gp.stop = (const char *const *)j->stops;
    j->gp.n_stop = j->n_stops;
    return 0;
}

/* Sampling and limits. */
static int read_sampling(ragd_request *req, ragd_response *resp, chat_job *j)
{
    const cJSON *b = req->json;
    llm_gen_default_params(&j->gp);
    long max_tokens = req->params->default_max_tokens, n = 1, seed = -1;
    double temp = j->grounded ? 0.0 : 0.7, top_p = req->params->default_top_p, presence = 0,
           frequency = 0;
    int stream = 0;
    if (ragd_api_int(resp, b, "max_tokens", NULL, 1, req->params->max_tokens, &max_tokens) ||
        ragd_api_int(resp, b, "max_completion_tokens", NULL, 1, req->params->max_tokens,
                     &max_tokens) ||
        ragd_api_int(resp, b, "n", NULL, 1, 1, &n) ||
        ragd_api_int(resp, b, "seed", NULL, -(1L << 62), 1L << 62, &seed) ||
        ragd_api_number(resp, b, "temperature", NULL, 0, 2, &temp) ||
        ragd_api_number(resp, b, "top_p", NULL, 0, 1, &top_p) ||
        ragd_api_number(resp, b, "presence_penalty", NULL, -2, 2, &presence) ||
        ragd_api_number(resp, b, "frequency_penalty", NULL, -2, 2, &frequency) ||
        ragd_api_bool(resp, b, "stream", NULL, &stream) || read_stops(resp, b, j))
        return -1;
    j->stream = stream;
    j->temperature = temp;
    j->gp.n_predict = (int)max_tokens;
    j->gp.sampling.temperature = (float)temp;
    j->gp.sampling.top_p = top_p > 0 ? (float)top_p : 1.0f;
    j->gp.sampling.presence_penalty = (float)presence;
    j->gp.sampling.frequency_penalty = (float)frequency;
    if (seed >= 0) j->gp.sampling.seed = (uint64_t)seed;
    return 0;
}

/* ---- the answer ------------------------------------------------------------------- */

static const char *finish_reason(const chat_job *j)
{
    switch (j->gen.stats.stop) {
    case LLM_STOP_EOG:
    case LLM_STOP_STRING:
        return "stop";
    case LLM_STOP_CANCEL:
        return j->timed_out ? "length" : "stop";
    default:
        return "length";
    }
}

static const char *stop_reason(const chat_job *j)
{
    if (j->gen.stats.stop == LLM_STOP_CANCEL) return j->timed_out ? "timeout" : "cancelled";
    return llm_stop_reason_name(j->gen.stats.stop);
}

/* rag.answer: "generated" or "extractive" (as mode), "none" when the
 * passages the key may see do not answer, "chat" for plain chat. */
static const char *answer_kind(const chat_job *j, const char *mode)
{
    return !j->grounded ? "chat" : j->abstained ? "none" : mode;
}

/* Fields every response and final chunk carries: citations, usage,
 * timings, and what happened ("rag"). */
static void add_result_fields(cJSON *o, const chat_job *j, const char *mode,
                              const rag_answer *extractive)
{
    const rag_ids *ids = ragd_engine_ids(j->engine);
    cJSON *cites = cJSON_AddArrayToObject(o, "citations");
    if (extractive) {
        for (size_t i = 0; i < extractive->n_citations; i++) {
            const rag_citation *c = &extractive->citations[i];
            for (size_t k = 0; k < j->results.n; k++)
                if (j->results.v[k].hit.chunk_id == c->chunk_id)
                    cJSON_AddItemToArray(
                        cites, rag_citation_json(c->n, &j->results.v[k].hit, c->quote, ids));
        }
        cJSON_AddItemToObject(o, "invalid_citations", cJSON_CreateArray());
    } else {
        for (size_t i = 0; i < j->gen.check.n_cited; i++) {
            const rag_block *b = &j->prompt.blocks[j->gen.check.cited[i] - 1];
            size_t len;
            const char *text = rag_block_text(b, &len);
            char *snip = rag_snippet(text, len, 240);
            cJSON_AddItemToArray(cites, rag_citation_json(b->n, &b->src->hit, snip, ids));
            rag_free(snip);
        }
        cJSON_AddItemToObject(
            o, "invalid_citations",
            cJSON_CreateIntArray(j->gen.check.invalid, (int)j->gen.check.n_invalid));
    }
    /* every context block the answer was written from, cited or not */
    cJSON *src = cJSON_AddArrayToObject(o, "sources");
    size_t n_src = extractive ? j->results.n : j->prompt.n_blocks;
    for (size_t i = 0; i < n_src; i++) {
        const store_hit *h = extractive ? &j->results.v[i].hit : &j->prompt.blocks[i].src->hit;
        cJSON *b = cJSON_CreateObject();
        int n = extractive ? 0 : j->prompt.blocks[i].n;
        for (size_t c = 0; extractive && c < extractive->n_citations; c++)
            if (extractive->citations[c].chunk_id == h->chunk_id) n = extractive->citations[c].n;
        if (n)
            cJSON_AddNumberToObject(b, "n", n);
        else
            cJSON_AddNullToObject(b, "n"); /* retrieved, not quoted */
        rag_ids_json(b, ids, "document", "chunk", h);
        cJSON_AddStringToObject(b, "uri", h->uri);
        cJSON_AddStringToObject(b, "title", h->title);
        cJSON_AddStringToObject(b, "heading_path", h->heading_path);
        cJSON_AddItemToArray(src, b);
    }
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", j->gen.stats.n_prompt);
    /* OpenAI's name for prompt tokens taken from a cache: the shared prefix
     * that the slot's last answer left in its context */
    cJSON *details = cJSON_AddObjectToObject(u, "prompt_tokens_details");
    cJSON_AddNumberToObject(details, "cached_tokens", j->gen.stats.n_reused);
    cJSON_AddNumberToObject(u, "completion_tokens", j->gen.stats.n_generated);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "completion_tokens_details"),
                            "reasoning_tokens", j->gen.n_reasoning);
    cJSON_AddNumberToObject(u, "total_tokens", j->gen.stats.n_prompt + j->gen.stats.n_generated);
    cJSON *r = cJSON_AddObjectToObject(o, "rag");
    cJSON_AddStringToObject(r, "mode", mode);
    cJSON_AddStringToObject(r, "answer", answer_kind(j, mode));
    if (j->grounded) cJSON_AddNumberToObject(r, "below_cutoff", (double)j->results.n_below);
    if (j->grounded && j->fq.how && strcmp(j->fq.how, "none")) {
        cJSON *w = cJSON_AddObjectToObject(r, "rewrite");
        cJSON_AddStringToObject(w, "how", j->fq.how);
        cJSON_AddStringToObject(w, "query", j->fq.query);
    } else {
        cJSON_AddNullToObject(r, "rewrite");
    }
    if (j->grounded)
        cJSON_AddStringToObject(r, "retrieval", j->retrieval_mode);
    else
        cJSON_AddNullToObject(r, "retrieval");
    cJSON_AddBoolToObject(r, "reasoning", j->reasoning && !extractive);
    cJSON_AddNumberToObject(r, "context_blocks",
                            extractive ? (double)j->results.n : (double)j->prompt.n_blocks);
    if (!extractive) cJSON_AddStringToObject(r, "stop_reason", stop_reason(j));
    if (j->note) cJSON_AddStringToObject(r, "note", j->note);
    cJSON *t = cJSON_AddObjectToObject(o, "timings");
    if (j->grounded) rag_timings_json(t, &j->results);
    if (j->rewrite_ms > 0) cJSON_AddNumberToObject(t, "rewrite_ms", j->rewrite_ms);
    cJSON_AddNumberToObject(t, "queue_ms", j->queue_ms);
    cJSON_AddNumberToObject(t, "prompt_build_ms", j->prompt_build_ms);
    cJSON_AddNumberToObject(t, "prompt_ms", j->gen.stats.prompt_ms);
    cJSON_AddNumberToObject(t, "generate_ms", j->gen.stats.gen_ms);
    if (j->first_token_ms > 0) cJSON_AddNumberToObject(t, "first_token_ms", j->first_token_ms);
    cJSON_AddNumberToObject(t, "total_ms", (rag_now_s() - j->started) * 1e3);
}

/* A whole (non-streamed) chat.completion holding one assistant message. */
static cJSON *completion_object(const chat_job *j, const char *text, const char *finish)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "object", "chat.completion");
    cJSON_AddNumberToObject(o, "created", (double)j->created);
    cJSON_AddStringToObject(o, "model", j->model_name);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    cJSON *m = cJSON_AddObjectToObject(c, "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", text);
    if (j->gen.reasoning) cJSON_AddStringToObject(m, "reasoning_content", j->gen.reasoning);
    cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddStringToObject(c, "finish_reason", finish);
    cJSON_AddItemToArray(choices, c);
    return o;
}

static cJSON *chunk_object(const chat_job *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(o, "created", (double)j->created);
    cJSON_AddStringToObject(o, "model", j->model_name);
    return o;
}

/* Sends one server-sent event holding o (consumed). */
static int send_event(chat_job *j, cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = ragd_stream_printf(j->out, "data: %s\n\n", text);
    cJSON_free(text);
    return rc;
}

/* A chunk with choices[0] = {delta, finish_reason}. */
static int send_delta(chat_job *j, const char *role, const char *content, size_t len,
                      const char *finish)
{
    cJSON *o = chunk_object(j);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    cJSON *d = cJSON_AddObjectToObject(c, "delta");
    if (role) cJSON_AddStringToObject(d, "role", role);
    if (content) {
        char *s = rag_xstrndup(content, len);
        cJSON_AddStringToObject(d, "content", s);
        rag_free(s);
    }
    cJSON_AddNullToObject(c, "logprobs");
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", finish);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    cJSON_AddItemToArray(choices, c);
    return send_event(j, o);
}

/* A chunk of reasoning: choices[0].delta.reasoning_content. */
static int send_reasoning(chat_job *j, const char *text, size_t len)
{
    cJSON *o = chunk_object(j), *c = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), c);
    cJSON_AddNumberToObject(c, "index", 0);
    char *s = rag_xstrndup(text, len);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(c, "delta"), "reasoning_content", s);
    rag_free(s);
    cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddNullToObject(c, "finish_reason");
    return send_event(j, o);
}

/* The end of a stream: finish_reason, the summary chunk, [DONE]. */
static void send_end(chat_job *j, const char *finish, const char *mode,
                     const rag_answer *extractive)
{
    send_delta(j, NULL, NULL, 0, finish);
    cJSON *o = chunk_object(j);
    cJSON_AddArrayToObject(o, "choices");
    add_result_fields(o, j, mode, extractive);
    send_event(j, o);
    ragd_stream_printf(j->out, "data: [DONE]\n\n");
}

/* ---- the record of the answer, for feedback (ragd/answers.h) --------------------------- */

/* How the answer was made: what a rating of it is about. */
static char *settings_json(const chat_job *j, const char *mode, int extractive)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "mode", mode);
    cJSON_AddStringToObject(o, "answer", answer_kind(j, mode));
    if (j->grounded) {
        cJSON_AddStringToObject(o, "retrieval", j->retrieval_mode);
        cJSON_AddNumberToObject(o, "below_cutoff", (double)j->results.n_below);
        cJSON_AddNumberToObject(o, "k", (double)j->k);
        cJSON_AddBoolToObject(o, "rerank", j->rerank);
    } else {
        cJSON_AddNullToObject(o, "retrieval");
        cJSON_AddNullToObject(o, "k");
        cJSON_AddNullToObject(o, "rerank");
    }
    cJSON_AddStringToObject(o, "model", j->model_name);
    cJSON_AddNumberToObject(o, "temperature", j->temperature);
    cJSON_AddNumberToObject(o, "max_tokens", j->gp.n_predict);
    if (!extractive) cJSON_AddStringToObject(o, "stop_reason", stop_reason(j));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char *out = rag_xstrdup(text ? text : "{}");
    cJSON_free(text);
    return out;
}

/* Hands the finished answer to the recorder (it copies): before the
 * client can have seen the end of it, so that a rating sent at once finds
 * it. A failure to record is the recorder's to log, never the client's. */
static void record_answer(const chat_job *j, const char *mode, const char *text,
                          const rag_answer *extractive)
{
    size_t n = extractive ? extractive->n_citations : j->gen.check.n_cited, m = 0;
    store_answer_cite *cites = rag_xcalloc(n ? n : 1, sizeof *cites);
    for (size_t i = 0; i < n; i++) {
        const store_hit *h = NULL;
        int num = 0;
        if (extractive) {
            num = extractive->citations[i].n;
            for (size_t k = 0; k < j->results.n && !h; k++)
                if (j->results.v[k].hit.chunk_id == extractive->citations[i].chunk_id)
                    h = &j->results.v[k].hit;
        } else {
            const rag_block *b = &j->prompt.blocks[j->gen.check.cited[i] - 1];
            num = b->n;
            h = &b->src->hit;
        }
        if (h) cites[m++] = (store_answer_cite){num, h->chunk_id, h->document_id, h->uri};
    }
    char *settings = settings_json(j, mode, extractive != NULL);
    store_answer a = {.id = j->id,
                      .key_name = j->key_name,
                      .created_at = j->created,
                      .question = j->question,
                      /* a follow-up's retrieval query; NULL: the question itself */
                      .rewrite = j->fq.how && strcmp(j->fq.how, "none") ? j->fq.query : NULL,
                      .answer = text,
                      .settings_json = settings,
                      .cites = cites,
                      .n_cites = m};
    ragd_answers_record(ragd_engine_answers(j->engine), &a);
    rag_free(settings);
    rag_free(cites);
}

static int job_stopped(void *p)
{
    chat_job *j = p;
    if (rag_now_s() > j->deadline) {
        j->timed_out = 1;
        return 1;
    }
    return j->out ? ragd_stream_cancelled(j->out) : ragd_request_gone(j->req);
}

/* The time to the first token as the client sees it: after retrieval, the
 * prompt, the wait for a slot, the prompt's processing and whatever the
 * citation check held back. */
static void note_first_text(chat_job *j, size_t len)
{
    if (len && !j->first_token_ms) j->first_token_ms = (rag_now_s() - j->started) * 1e3;
}

static int on_text(void *p, const char *text, size_t len)
{
    chat_job *j = p;
    if (j->out && len && send_delta(j, NULL, text, len, NULL) < 0) return 1;
    note_first_text(j, len);
    return job_stopped(j);
}

static int on_reasoning(void *p, const char *text, size_t len)
{
    chat_job *j = p;
    if (j->out && len && send_reasoning(j, text, len) < 0) return 1;
    note_first_text(j, len);
    return job_stopped(j);
}

/* Waits for a slot and generates (in the connection's thread, or in a
 * stream's own). */
static void run_generation(chat_job *j)
{
    ragd_slot *slot = NULL;
    double t0 = rag_now_s();
    int rc = ragd_engine_wait(j->engine, j->ticket, j->owner, j->deadline, job_stopped, j, &slot,
                              &j->err);
    j->ticket = NULL;
    j->queue_ms = (rag_now_s() - t0) * 1e3;
    ragd_meter_stage(j->meter, "queue", j->queue_ms / 1e3);
    if (!rc) {
        const rag_generator *g = ragd_slot_generator(slot, j->owner);
        rc = rag_generate(g, &j->prompt, j->grounded, &j->gp, on_text, on_reasoning, j, &j->gen,
                          &j->err);
        /* a generator server's failure, whatever it said to us, is a bad
         * gateway to our client */
        if (rc && g->remote) j->err.code = rc = RAG_ERR_NET;
        ragd_engine_release(j->engine, slot);
    }
    if (rc) {
        j->failed = 1;
        if (rc == RAG_ERR_LIMIT && j->timed_out)
            rag_err_set(&j->err, RAG_ERR_LIMIT, "timed out waiting for a generation slot");
        return;
    }
    ragd_meter_stage(j->meter, "prompt", j->gen.stats.prompt_ms / 1e3);
    ragd_meter_stage(j->meter, "generate", j->gen.stats.gen_ms / 1e3);
    ragd_meter_generation(j->meter, j->gen.stats.n_prompt, j->gen.stats.n_generated,
                          j->gen.stats.gen_ms / 1e3);
}

static void *stream_thread(void *p)
{
    chat_job *j = p;
    run_generation(j);
    if (j->failed) {
        /* headers are sent: say so in the stream, as OpenAI does */
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "message", j->err.msg[0] ? j->err.msg : "generation failed");
        cJSON_AddStringToObject(e, "type",
                                j->err.code == RAG_ERR_LIMIT ? "timeout" : "server_error");
        send_event(j, o);
        ragd_stream_printf(j->out, "data: [DONE]\n\n");
    } else {
        const char *mode = j->grounded ? "generated" : "none";
        record_answer(j, mode, j->gen.check.text ? j->gen.check.text : "", NULL);
        send_end(j, finish_reason(j), mode, NULL);
    }
    ragd_stream_end(j->out);
    ragd_server *srv = j->srv;
    job_free(j);
    ragd_server_release(srv);
    return NULL;
}

/* ---- extractive answers (no generator) ------------------------------------------------ */

static void answer_extractive(ragd_request *req, ragd_response *resp, chat_job *j)
{
    store_hits hits = {0};
    hits.n = j->results.n;
    hits.v = rag_xcalloc(hits.n ? hits.n : 1, sizeof *hits.v);
    for (size_t i = 0; i < hits.n; i++)
        hits.v[i] = j->results.v[i].hit; /* borrowed */
    rag_answer a;
    rag_err err = {0};
    store *s = ragd_engine_store_get(req->engine);
    int rc = ragd_engine_extractive(req->engine, s, j->fq.query, &hits, j->rerank, &a, &err);
    ragd_engine_store_put(req->engine, s);
    rag_free(hits.v);
    if (rc) {
        ragd_error_from(resp, &err);
        return;
    }
    const char *text = a.text; /* or RAG_ANSWER_NONE (rag_answer_extractive) */
    j->abstained = a.n_sentences == 0;
    if (!j->note)
        j->note = rag_xstrdup(
            j->abstained ? "no passage this key may see answers the question"
            : ragd_engine_get_info(req->engine)->model_name
                ? "nothing was retrieved: there is no passage to write an answer from"
                : "no generator model is loaded: the answer quotes the best-matching passages");
    record_answer(j, "extractive", text, &a);
    if (j->stream) {
        j->out = ragd_stream_new();
        send_delta(j, "assistant", "", 0, NULL);
        send_delta(j, NULL, text, strlen(text), NULL);
        send_end(j, "stop", "extractive", &a);
        resp->stream = j->out;
        ragd_stream_end(j->out);
    } else {
        resp->json = completion_object(j, text, "stop");
        add_result_fields(resp->json, j, "extractive", &a);
    }
    rag_answer_free(&a);
}

/* ---- the handler ---------------------------------------------------------------------- */

/* "rag": {"retrieval": false} turns grounding off. */
static int read_grounding(ragd_request *req, ragd_response *resp, chat_job *j)
{
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(req->json, "rag");
    if (opts && !cJSON_IsNull(opts) && !cJSON_IsObject(opts)) {
        ragd_error(resp, 400, "rag", "rag: expected an object");
        return -1;
    }
    j->grounded = 1;
    return ragd_api_bool(resp, opts, "retrieval", "rag", &j->grounded);
}

/* The generator's standalone rewrite of a follow-up (rag/converse.h), in a
 * slot as answers are generated: 1 when it was refused or could not be
 * had (the caller expands instead). */
static int rewrite(ragd_request *req, chat_job *j, rag_err *err)
{
    const llm_model *m = ragd_engine_model(req->engine); /* NULL: a remote generator */
    const ragd_engine_info *in = ragd_engine_get_info(req->engine);
    rag_prompt pr = {0};
    if (rag_rewrite_prompt(m ? llm_model_vocab(m) : NULL, in->chat_family, j->history, j->n_history,
                           j->question, rag_prompt_budget((size_t)in->n_ctx, RAG_REWRITE_TOKENS),
                           &pr, err)) {
        rag_prompt_free(&pr);
        return 1; /* a conversation too long for the model: expanded */
    }
    ragd_ticket *ticket = NULL;
    ragd_slot *slot = NULL;
    int rc = ragd_engine_reserve(req->engine, &ticket, err);
    if (!rc) {
        rc = ragd_engine_wait(req->engine, ticket, j->owner, j->deadline, job_stopped, j, &slot,
                              err);
        if (rc) ragd_engine_unreserve(req->engine, ticket);
    }
    int refused = 1;
    if (!rc) {
        llm_gen_params gp;
        rag_rewrite_gen_params(&gp);
        rag_generation g = {0};
        rag_err gerr = {0};
        if (!rag_generate(ragd_slot_generator(slot, j->owner), &pr, 0, &gp, NULL, NULL, NULL, &g,
                          &gerr)) {
            store *s = ragd_engine_store_get(req->engine);
            refused = rag_rewrite_accept(s, g.check.text ? g.check.text : "", j->history,
                                         j->n_history, j->question, &j->fq, err);
            ragd_engine_store_put(req->engine, s);
        } else {
            rag_log_warn("%s: the follow-up's rewrite failed (%s): expanded instead", req->id,
                         gerr.msg);
        }
        rag_generation_free(&g);
        ragd_engine_release(req->engine, slot);
    } else {
        rag_log_warn("%s: no slot for the follow-up's rewrite (%s): expanded instead", req->id,
                     err->msg);
        refused = 1;
    }
    rag_prompt_free(&pr);
    return refused < 0 ? refused : refused ? 1 : 0;
}

/* The retrieval query of the question: its own text on a first turn, else
 * the generator's rewrite, or the expansion without one. */
static int followup_query(ragd_request *req, chat_job *j, rag_err *err)
{
    int mode = req->params->followup;
    if (!rag_is_followup(j->history, j->n_history) || mode == RAG_FOLLOWUP_OFF) {
        j->fq.query = rag_xstrdup(j->question);
        j->fq.how = "none";
        return 0;
    }
    double t0 = rag_now_s();
    int rc = 1;
    if (mode == RAG_FOLLOWUP_REWRITE && ragd_engine_get_info(req->engine)->model_name)
        rc = rewrite(req, j, err);
    if (rc) {
        store *s = ragd_engine_store_get(req->engine);
        rc = rag_followup_expand(s, j->history, j->n_history, j->question, &j->fq, err);
        ragd_engine_store_put(req->engine, s);
    }
    j->rewrite_ms = (rag_now_s() - t0) * 1e3;
    ragd_meter_stage(req->meter, "rewrite", j->rewrite_ms / 1e3);
    return rc;
}

/* Whether a reasoning model thinks first: "rag": {"reasoning": bool}, else
 * "chat_template_kwargs": {"enable_thinking": bool} (vLLM's, llama.cpp's
 * server's), else model.reasoning. */
static int read_reasoning(ragd_request *req, ragd_response *resp, chat_job *j)
{
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(req->json, "chat_template_kwargs");
    if (kw && !cJSON_IsNull(kw) && !cJSON_IsObject(kw)) {
        ragd_error(resp, 400, "chat_template_kwargs", "chat_template_kwargs: expected an object");
        return -1;
    }
    j->reasoning = rag_reasoning_default(req->params->reasoning, j->grounded);
    return ragd_api_bool(resp, kw, "enable_thinking", "chat_template_kwargs", &j->reasoning) ||
           ragd_api_bool(resp, cJSON_GetObjectItemCaseSensitive(req->json, "rag"), "reasoning",
                         "rag", &j->reasoning);
}

static int retrieve(ragd_request *req, ragd_response *resp, chat_job *j)
{
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(req->json, "rag");
    if (!j->grounded) return 0;
    ragd_api_retrieval r;
    if (ragd_api_retrieval_read(req, resp, opts, "rag", req->params->answer_k, 50,
                                !req->params->answer_per_document, &r))
        return -1;
    rag_retrieve_params p;
    ragd_api_retrieve_params(req, &r, &p);
    p.want_snippet = 0;
    j->k = r.k;
    j->rerank = r.rerank && ragd_engine_get_info(req->engine)->rerank_name;
    rag_err err = {0};
    if (followup_query(req, j, &err)) {
        ragd_api_retrieval_free(&r);
        ragd_error_from(resp, &err);
        return -1;
    }
    p.embed_query = j->fq.embed_query;
    store *s = ragd_engine_store_get(req->engine);
    int rc = ragd_engine_retrieve(req->engine, s, j->fq.query, &r.who, &p, r.rerank, &j->results,
                                  &j->note, &err);
    /* passages under the relevance cutoff are neither given to the model nor quoted */
    if (!rc) rc = rag_relevance(s, j->fq.query, &j->results, &req->params->cutoff, &err);
    if (!rc) rag_cutoff_apply(&j->results);
    ragd_engine_store_put(req->engine, s);
    j->retrieval_mode = p.vector && p.keyword && !j->note ? "hybrid"
                        : p.vector && !j->note            ? "vector"
                                                          : "keyword";
    ragd_api_retrieval_free(&r);
    if (rc) {
        ragd_error_from(resp, &err);
        return -1;
    }
    ragd_meter_stage(req->meter, "keyword", j->results.keyword_ms / 1e3);
    if (j->results.vector_ms > 0)
        ragd_meter_stage(req->meter, "vector", j->results.vector_ms / 1e3);
    if (j->results.embed_ms > 0) ragd_meter_stage(req->meter, "embed", j->results.embed_ms / 1e3);
    if (j->results.rerank_ms > 0)
        ragd_meter_stage(req->meter, "rerank", j->results.rerank_ms / 1e3);
    return 0;
}

static int build_prompt(ragd_request *req, ragd_response *resp, chat_job *j)
{
    const llm_model *m = ragd_engine_model(req->engine); /* NULL: a remote generator */
    const ragd_engine_info *in = ragd_engine_get_info(req->engine);
    rag_prompt_input pin = {.user_system = j->user_system,
                            .history = j->history,
                            .n_history = j->n_history,
                            .question = j->question,
                            .results = j->grounded ? &j->results : NULL,
                            .reasoning = j->reasoning};
    rag_err err = {0};
    double t0 = rag_now_s();
    int rc = rag_prompt_build(m ? llm_model_vocab(m) : NULL, in->chat_family, &pin,
                              rag_prompt_budget((size_t)in->n_ctx, (size_t)j->gp.n_predict),
                              &j->prompt, &err);
    j->prompt_build_ms = (rag_now_s() - t0) * 1e3;
    if (rc == RAG_ERR_LIMIT) {
        ragd_error(resp, 400, "messages",
                   "the question does not fit the model's context of %d tokens: %s", in->n_ctx,
                   err.msg);
        return -1;
    }
    if (rc) {
        ragd_error_from(resp, &err);
        return -1;
    }
    return 0;
}

void ragd_api_chat(ragd_request *req, ragd_response *resp)
{
    chat_job *j = rag_xcalloc(1, sizeof *j);
    j->engine = req->engine;
    snprintf(j->owner, sizeof j->owner, "key:%s", req->key_name);
    snprintf(j->key_name, sizeof j->key_name, "%s", req->key_name);
    j->meter = req->meter;
    j->srv = req->srv;
    j->req = req;
    j->started = req->started;
    j->deadline = req->deadline;
    j->created = ragd_api_unix_time();
    snprintf(j->id, sizeof j->id, "chatcmpl-%s", req->id);
    const ragd_engine_info *in = ragd_engine_get_info(req->engine);
    j->model_name = rag_xstrdup(in->model_name ? in->model_name : "ragd-extractive");
    const char *model = NULL; /* accepted and not checked: one generator serves every name */
    if (ragd_api_string(resp, req->json, "model", NULL, 256, 0, &model) ||
        read_messages(req, resp, j) || read_grounding(req, resp, j) ||
        read_reasoning(req, resp, j) || read_sampling(req, resp, j) || retrieve(req, resp, j))
        goto done;
    /* with nothing retrieved, a grounded answer says so, as rag ask does,
     * rather than have the model write one from no passage */
    if (!in->model_name || (j->grounded && !j->results.n)) {
        if (!j->grounded)
            ragd_error(resp, 501, "rag",
                       "plain chat needs a generator model (start ragd with --model)");
        else
            answer_extractive(req, resp, j);
        goto done;
    }
    if (build_prompt(req, resp, j)) goto done;
    rag_err err = {0};
    if (ragd_engine_reserve(req->engine, &j->ticket, &err)) {
        ragd_error_from(resp, &err);
        goto done;
    }
    if (j->stream) {
        j->out = ragd_stream_new();
        j->req = NULL;
        send_delta(j, "assistant", "", 0,
                   NULL); /* the client sees the answer start while it waits */
        resp->stream = j->out;
        ragd_server_hold(j->srv);
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int started = pthread_create(&th, &attr, stream_thread, j) == 0;
        pthread_attr_destroy(&attr);
        if (started) return; /* the thread owns the job now */
        ragd_server_release(j->srv);
        ragd_engine_unreserve(req->engine, j->ticket);
        j->ticket = NULL;
        ragd_stream_end(j->out); /* the response still reads what was written */
        rag_log_error("%s: cannot start a thread for the stream", req->id);
        goto done;
    }
    run_generation(j);
    if (j->failed) {
        ragd_error_from(resp, &j->err);
        if (j->err.code == RAG_ERR_LIMIT) resp->status = 504;
        goto done;
    }
    const char *text = j->gen.check.text ? j->gen.check.text : "",
               *mode = j->grounded ? "generated" : "none";
    record_answer(j, mode, text, NULL);
    resp->json = completion_object(j, text, finish_reason(j));
    add_result_fields(resp->json, j, mode, NULL);
done:
    if (j->ticket) ragd_engine_unreserve(req->engine, j->ticket);
    job_free(j);
}
