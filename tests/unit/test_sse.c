/* Server-sent events as a remote chat server streams them: events are the
 * same however the bytes are cut, whatever the line ends (LF, CRLF, CR,
 * a CRLF cut in two), comments and unknown fields are skipped, multi-line
 * data is joined, a stream that stops without its last blank line still
 * gives its last event, a callback can stop the reading, and an endless
 * line is refused instead of buffered.
 *
 * Then remote generation (rag/generate.c) against a canned server on
 * loopback that writes its answer a few bytes at a time: the request
 * carries the prompt's messages and asks for a plain model; the text goes
 * through the citation check; usage and finish_reason fill the statistics;
 * an error event, a web page, a stream cut short and an HTTP error are
 * errors naming the server; a caller's stop ends the answer early. A
 * reasoning model's thinking, sent apart (delta.reasoning_content) or as
 * <think> in the content cut across chunks, is kept apart from the answer
 * and its citation check; the request says whether it may think.
 *
 * And the remote embedder (embed/remote.c) against the same server: the
 * dimension comes from a probe, inputs go in batches, vectors are put back
 * in the order of their "index" and normalised, the identity names the
 * model; an answer with a wrong dimension, a missing or repeated input or
 * a value that is not a number is refused, naming the server.
 *
 * Pools (model.url, embed.url as lists): a server that refuses the
 * connection or answers 503 is passed over for the next, but never once
 * text of the answer came; errors never show a URL's password. */
#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/mem.h"
#include "embed/embed.h"
#include "rag/generate.h"
#include "rag/sse.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Collects events as "<data>|" (data with '\n' shown as '/'). */
static int collect(void *ctx, const char *data, size_t len)
{
    rag_buf *b = ctx;
    CHECK_INT(strlen(data), len); /* NUL-terminated at len */
    for (size_t i = 0; i < len; i++)
        rag_buf_putc(b, data[i] == '\n' ? '/' : data[i]);
    rag_buf_putc(b, '|');
    return 0;
}

/* The events of stream fed in pieces of `step` bytes (0: all at once). */
static char *events(const char *stream, size_t step)
{
    rag_sse s;
    rag_sse_init(&s, 1024);
    rag_buf out = {0};
    size_t n = strlen(stream);
    for (size_t at = 0; at < n;) {
        size_t k = step && step < n - at ? step : n - at;
        CHECK_INT(rag_sse_feed(&s, stream + at, k, collect, &out), 0);
        at += k;
    }
    CHECK_INT(rag_sse_end(&s, collect, &out), 0);
    rag_sse_free(&s);
    rag_buf_putc(&out, 0); /* "" when there was none */
    return rag_buf_steal(&out);
}

static void expect(const char *stream, const char *want)
{
    for (size_t step = 0; step <= 7; step++) {
        char *got = events(stream, step);
        if (strcmp(got, want)) {
            printf("    cut every %zu bytes:\n", step);
            CHECK_STR(got, want);
            step = 7;
        }
        rag_free(got);
    }
}

static void test_events(void)
{
    expect("data: {\"a\":1}\n\ndata: [DONE]\n\n", "{\"a\":1}|[DONE]|");
    expect("data: one\r\n\r\ndata: two\r\rdata: three\n\n", "one|two|three|");
    expect(": keep-alive\n\ndata: x\n: comment inside\n\n", "x|");
    expect("event: message\nid: 7\nretry: 100\ndata: y\n\n", "y|");
    expect("data: a\ndata: b\n\n", "a/b|");
    expect("data:no-space\n\ndata:  two spaces\n\n", "no-space| two spaces|");
    expect("\n\n\n", "");              /* blank lines alone make no event */
    expect("data\n\n", "|");           /* "data" without a colon: empty data */
    expect("data: last\n", "last|");   /* no blank line at the end */
    expect("data: [DONE]", "[DONE]|"); /* nor a line end */
    expect("datum: x\nDATA: y\n\n", "");
}

static int stop_at_second(void *ctx, const char *data, size_t len)
{
    int *seen = ctx;
    (void)data, (void)len;
    return ++*seen == 2 ? 7 : 0;
}

static void test_stop_and_limit(void)
{
    rag_sse s;
    rag_sse_init(&s, 1024);
    int seen = 0;
    const char *st = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    CHECK_INT(rag_sse_feed(&s, st, strlen(st), stop_at_second, &seen), 7);
    CHECK_INT(seen, 2);
    rag_sse_free(&s);

    rag_sse_init(&s, 16);
    rag_buf out = {0};
    CHECK_INT(rag_sse_feed(&s, "data: 0123456789", 16, collect, &out), 0);
    CHECK_INT(rag_sse_feed(&s, "x", 1, collect, &out), RAG_ERR_LIMIT); /* a line past the limit */
    rag_sse_free(&s);
    rag_sse_init(&s, 16);
    const char *many = "data: 01234567\ndata: 01234567\n";
    CHECK_INT(rag_sse_feed(&s, many, strlen(many), collect, &out),
              RAG_ERR_LIMIT); /* an event past it */
    CHECK_INT(out.len, 0);
    rag_sse_free(&s);
    rag_buf_free(&out);
}

/* ---- remote generation against a canned server ------------------------------------ */

typedef struct fake {
    int fd, port;
    const char *const *responses; /* one per connection, in order; each a whole
                                     HTTP response, written in small pieces */
    size_t n;
    rag_buf request; /* what came, all requests one after the other */
    pthread_t th;
} fake;

/* Reads one request (headers and body) into f->request. */
static void read_request(fake *f, int c)
{
    char buf[4096];
    size_t start = f->request.len, want = 0; /* its length, once its headers are in */
    while (!want || f->request.len - start < want) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        rag_buf_append(&f->request, buf, (size_t)n);
        const char *req = rag_buf_str(&f->request) + start;
        const char *end = strstr(req, "\r\n\r\n"), *cl = strcasestr(req, "content-length:");
        if (end && !want) want = (size_t)(end + 4 - req) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
    }
}

static void *serve(void *p)
{
    fake *f = p;
    for (size_t i = 0; i < f->n; i++) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0) return NULL;
        read_request(f, c);
        struct timespec pause = {0, 200000};
        const char *r = f->responses[i];
        for (size_t at = 0, n = strlen(r); at < n; at += 7) { /* cut anywhere, CRLFs included */
            if (send(c, r + at, n - at < 7 ? n - at : 7, MSG_NOSIGNAL) < 0) break;
            nanosleep(&pause, NULL);
        }
        close(c);
    }
    return NULL;
}

static void fake_start(fake *f, const char *const *responses, size_t n)
{
    memset(f, 0, sizeof *f);
    f->responses = responses;
    f->n = n;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(f->fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(f->fd, 4) == 0);
    getsockname(f->fd, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->th, NULL, serve, f);
}

/* Stops waiting for connections (a client that gave up early makes fewer
 * than n), waits for the responses being sent, and returns what was asked
 * (owned). */
static char *fake_stop(fake *f)
{
    shutdown(f->fd, SHUT_RDWR); /* wakes accept() */
    pthread_join(f->th, NULL);
    close(f->fd);
    return rag_buf_steal(&f->request);
}

static rag_result result(const char *title, const char *text, int64_t id)
{
    rag_result r;
    memset(&r, 0, sizeof r);
    r.hit.chunk_id = id;
    r.hit.title = rag_xstrdup(title);
    r.hit.heading_path = rag_xstrdup("");
    r.hit.uri = rag_xstrdup("/doc");
    r.hit.text = rag_xstrdup(text);
    return r;
}

typedef struct answer {
    int rc;
    rag_err err;
    rag_generation g;
    rag_buf streamed, thought;
    int stop_after; /* pieces before on_text says stop (0: never) */
    int pieces;
    int reasoning; /* ask for it */
} answer;

static int on_text(void *ctx, const char *text, size_t len)
{
    answer *a = ctx;
    if (!len) return 0; /* asked while the server is silent */
    rag_buf_append(&a->streamed, text, len);
    return a->stop_after && ++a->pieces >= a->stop_after;
}

static int on_reasoning(void *ctx, const char *text, size_t len)
{
    answer *a = ctx;
    rag_buf_append(&a->thought, text, len);
    return 0;
}

/* Asks the servers of url (one, or a comma-separated pool) for an answer. */
static void ask_url(const char *url, answer *a)
{
    rag_results res = {0};
    res.n = 2;
    res.v = rag_xcalloc(2, sizeof *res.v);
    res.v[0] = result("Refunds", "Refunds take 14 days.", 1);
    res.v[1] = result("Parts", "Parts need an order.", 2);
    rag_prompt_input in = {
        .question = "How long do refunds take?", .results = &res, .reasoning = a->reasoning};
    rag_prompt pr;
    rag_err err = {0};
    CHECK_INT(rag_prompt_build(NULL, LLM_CHAT_CHATML, &in, 4000, &pr, &err), 0);
    rag_backend b = {
        .url = url, .model = "m", .api_key = "secret", .ctx = 4096, .timeout = 10, .retries = 0};
    rag_generator gen = {.ops = &rag_gen_remote, .remote = &b};
    llm_gen_params gp;
    llm_gen_default_params(&gp);
    gp.n_predict = 32;
    a->rc = rag_generate(&gen, &pr, 1, &gp, on_text, on_reasoning, a, &a->g, &a->err);
    rag_prompt_free(&pr);
    for (size_t i = 0; i < res.n; i++) {
        rag_free(res.v[i].hit.title), rag_free(res.v[i].hit.heading_path);
        rag_free(res.v[i].hit.uri), rag_free(res.v[i].hit.text);
    }
    rag_free(res.v);
}

/* Asks the fake server that answers `response`; *request gets what it was sent. */
static void ask(const char *response, answer *a, char **request)
{
    fake f;
    fake_start(&f, &response, 1);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/", f.port);
    ask_url(url, a);
    *request = fake_stop(&f);
}

static void answer_free(answer *a)
{
    rag_generation_free(&a->g);
    rag_buf_free(&a->streamed);
    rag_buf_free(&a->thought);
}

#define SSE_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
#define CHUNK(s)                                                                                   \
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" s                                 \
    "\"},\"finish_reason\":null}]}\r\n\r\n"

static void test_remote_answer(void)
{
    answer a = {0};
    char *req;
    ask(SSE_HEAD ": keep-alive\r\n\r\n"
                 "data: "
                 "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}"
                 "\r\n\r\n" CHUNK("Refunds take ") CHUNK("14 days [1]")
                     CHUNK(" [7].") "data: "
                                    "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
                                    "\"length\"}]}\r\n\r\n"
                                    "data: "
                                    "{\"choices\":[],\"usage\":{\"prompt_tokens\":77,\"completion_"
                                    "tokens\":5}}\r\n\r\n"
                                    "data: [DONE]\r\n\r\n",
        &a, &req);
    CHECK_INT(a.rc, 0);
    CHECK_STR(a.g.check.text, "Refunds take 14 days [1].");
    CHECK_STR(rag_buf_str(&a.streamed), "Refunds take 14 days [1]."); /* checked as it streamed */
    CHECK_INT(a.g.check.n_invalid, 1);
    CHECK_INT(a.g.stats.n_prompt, 77);
    CHECK_INT(a.g.stats.n_generated, 5);
    CHECK_INT(a.g.stats.stop, LLM_STOP_LENGTH);
    CHECK_CONTAINS(req, "POST /v1/chat/completions ");
    CHECK_CONTAINS(req, "Authorization: Bearer secret");
    CHECK_CONTAINS(
        req,
        "\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"You answer questions");
    CHECK_CONTAINS(
        req, "{\"role\":\"user\",\"content\":\"<context>\\n[1] Refunds\\nRefunds take 14 days.");
    CHECK_CONTAINS(req, "\"stream\":true");
    CHECK_CONTAINS(req, "\"max_tokens\":32");
    CHECK_CONTAINS(req, "\"stream_options\":{\"include_usage\":true}");
    CHECK_CONTAINS(req, "\"chat_template_kwargs\":{\"enable_thinking\":false}");
    CHECK_CONTAINS(req, "\"rag\":{\"retrieval\":false,\"reasoning\":false}");
    CHECK(!a.g.reasoning);
    CHECK_INT(a.g.n_reasoning, 0);
    rag_free(req);
    answer_free(&a);

    /* no usage, LF only, finish "stop", no [DONE]: estimates, and a normal end */
    answer b = {0};
    ask("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"Twelve "
        "bytes\"},\"finish_reason\":\"stop\"}]}\n\n",
        &b, &req);
    CHECK_INT(b.rc, 0);
    CHECK_STR(b.g.check.text, "Twelve bytes");
    CHECK_INT(b.g.stats.n_generated, 3);
    CHECK(b.g.stats.n_prompt > 50); /* the prompt's estimate */
    CHECK_INT(b.g.stats.stop, LLM_STOP_EOG);
    rag_free(req);
    answer_free(&b);
}

#define REASONING(s)                                                                               \
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"" s                       \
    "\"},\"finish_reason\":null}]}\r\n\r\n"
#define FINISH "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\n"

/* A reasoning model behind a server: its thinking, sent apart or left in
 * the content between <think> tags, never reaches the answer or its
 * citation check. */
static void test_remote_reasoning(void)
{
    /* apart, as llama.cpp's server and vLLM send it, with the server's count */
    answer a = {.reasoning = 1};
    char *req;
    ask(SSE_HEAD REASONING("Block [1] says 14 days; ") REASONING("[7] is no block.")
            CHUNK("\\n\\nRefunds take 14 days [1].") FINISH
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":77,\"completion_tokens\":20,"
        "\"completion_tokens_details\":{\"reasoning_tokens\":12}}}\r\n\r\ndata: [DONE]\r\n\r\n",
        &a, &req);
    CHECK_INT(a.rc, 0);
    CHECK_STR(a.g.reasoning, "Block [1] says 14 days; [7] is no block.");
    CHECK_STR(rag_buf_str(&a.thought), a.g.reasoning);
    CHECK_STR(a.g.check.text, "Refunds take 14 days [1].");
    CHECK_STR(rag_buf_str(&a.streamed), "Refunds take 14 days [1].");
    CHECK_INT(a.g.check.n_invalid, 0); /* the [7] of the reasoning is not checked */
    CHECK_INT(a.g.check.n_cited, 1);
    CHECK_INT(a.g.n_reasoning, 12);
    CHECK_CONTAINS(req, "\"chat_template_kwargs\":{\"enable_thinking\":true}");
    CHECK_CONTAINS(req, "\"rag\":{\"retrieval\":false,\"reasoning\":true}");
    rag_free(req);
    answer_free(&a);

    /* in the content, the tags cut across chunks; no count: estimated */
    answer b = {0};
    ask(SSE_HEAD CHUNK("<thi") CHUNK("nk>\\nOnly [1] fits, not [9].\\n</th")
            CHUNK("ink>\\n\\nRefunds take ") CHUNK("14 days [1] [9].") FINISH
        "data: [DONE]\r\n\r\n",
        &b, &req);
    CHECK_INT(b.rc, 0);
    CHECK_STR(b.g.reasoning, "Only [1] fits, not [9].");
    CHECK_STR(rag_buf_str(&b.thought), b.g.reasoning);
    CHECK_STR(b.g.check.text, "Refunds take 14 days [1].");
    CHECK_STR(rag_buf_str(&b.streamed), "Refunds take 14 days [1].");
    CHECK_INT(b.g.check.n_invalid, 1); /* the answer's [9], once */
    CHECK_INT(b.g.n_reasoning, 6);     /* 23 bytes / 4 */
    CHECK(b.g.stats.n_generated >= b.g.n_reasoning);
    rag_free(req);
    answer_free(&b);

    /* still thinking when the tokens ran out: no answer */
    answer c = {0};
    ask(SSE_HEAD CHUNK("<think>Let me see [1]") "data: {\"choices\":[{\"index\":0,\"delta\":{},"
                                                "\"finish_reason\":\"length\"}]}\r\n\r\n",
        &c, &req);
    CHECK_INT(c.rc, 0);
    CHECK_STR(c.g.reasoning, "Let me see [1]");
    CHECK_STR(c.g.check.text, "");
    CHECK_INT(c.g.check.n_cited, 0);
    CHECK_STR(rag_buf_str(&c.streamed), "");
    rag_free(req);
    answer_free(&c);
}

static void test_remote_stop(void)
{
    answer a = {.stop_after = 1};
    char *req;
    ask(SSE_HEAD CHUNK("First") CHUNK(" second") CHUNK(" third") "data: [DONE]\n\n", &a, &req);
    CHECK_INT(a.rc, 0);
    CHECK_INT(a.g.stats.stop, LLM_STOP_CANCEL);
    CHECK_STR(rag_buf_str(&a.streamed), "First");
    rag_free(req);
    answer_free(&a);
}

/* An answer that fails: the message names the server's endpoint. */
static void expect_failure(const char *response, const char *why)
{
    answer a = {0};
    char *req;
    ask(response, &a, &req);
    CHECK(a.rc != 0);
    CHECK_CONTAINS(a.err.msg, "generator server http://127.0.0.1:");
    CHECK_CONTAINS(a.err.msg, "/v1/chat/completions: ");
    CHECK_CONTAINS(a.err.msg, why);
    rag_free(req);
    answer_free(&a);
}

static void test_remote_failures(void)
{
    expect_failure(
        SSE_HEAD CHUNK("Partial") "data: {\"error\":{\"message\":\"model exploded\"}}\n\n",
        "model exploded");
    expect_failure(SSE_HEAD CHUNK("Partial"), "the stream ended before the answer did");
    expect_failure(SSE_HEAD "data: {not json\n\n", "not a JSON object");
    expect_failure(SSE_HEAD "data: {\"choices\":[{\"delta\":{\"content\":7}}]}\n\n",
                   "delta.content is not text");
    expect_failure("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>hello</html>",
                   "text/html, not a stream");
    expect_failure("HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                   "application/json\r\nContent-Length: 39\r\n\r\n"
                   "{\"error\":{\"message\":\"model loading\"}}\n\n",
                   "HTTP 503 Service Unavailable: model loading");
}

/* A loopback port nothing listens on: connections to it are refused. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

#define GOOD_ANSWER SSE_HEAD CHUNK("Refunds take 14 days [1].") "data: [DONE]\r\n\r\n"
#define BUSY_ANSWER                                                                                \
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: "             \
    "4\r\nConnection: close\r\n\r\nbusy"

/* Several servers (model.url a list): an answer that failed before any text
 * came goes to the next server; one that failed after is an error, and the
 * next server is not asked; every server failing is an error naming the
 * last, without passwords. */
static void test_remote_pool(void)
{
    /* the first refuses connections: the second answers */
    static const char *good[] = {GOOD_ANSWER};
    fake f;
    fake_start(&f, good, 1);
    char url[256];
    snprintf(url, sizeof url, "http://u:pa55word@127.0.0.1:%d/v1, http://127.0.0.1:%d/v1",
             dead_port(), f.port);
    answer a = {0};
    ask_url(url, &a);
    char *req = fake_stop(&f);
    CHECK_INT(a.rc, 0);
    CHECK_STR(rag_buf_str(&a.streamed), "Refunds take 14 days [1].");
    CHECK_CONTAINS(req, "POST /v1/chat/completions ");
    rag_free(req);
    answer_free(&a);

    /* the first answers 503: the second answers, each once */
    static const char *busy[] = {BUSY_ANSWER, BUSY_ANSWER};
    fake f1, f2;
    fake_start(&f1, busy, 2);
    fake_start(&f2, good, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1,http://127.0.0.1:%d/v1", f1.port, f2.port);
    memset(&a, 0, sizeof a);
    ask_url(url, &a);
    char *r1 = fake_stop(&f1), *r2 = fake_stop(&f2);
    CHECK_INT(a.rc, 0);
    CHECK_STR(rag_buf_str(&a.streamed), "Refunds take 14 days [1].");
    CHECK(strstr(r1, "POST /v1/chat/completions ") && !strstr(strstr(r1, "POST ") + 1, "POST "));
    CHECK_CONTAINS(r2, "POST /v1/chat/completions ");
    rag_free(r1), rag_free(r2);
    answer_free(&a);

    /* text came, then the stream broke: an error; the second is not asked */
    static const char *cut[] = {SSE_HEAD CHUNK("Partial")};
    fake_start(&f1, cut, 1);
    fake_start(&f2, good, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1,http://127.0.0.1:%d/v1", f1.port, f2.port);
    memset(&a, 0, sizeof a);
    ask_url(url, &a);
    r1 = fake_stop(&f1), r2 = fake_stop(&f2);
    CHECK(a.rc != 0);
    CHECK_STR(rag_buf_str(&a.streamed), "Partial");
    CHECK_CONTAINS(a.err.msg, "the stream ended before the answer did");
    CHECK_CONTAINS(r1, "POST /v1/chat/completions ");
    CHECK_STR(r2, "");
    rag_free(r1), rag_free(r2);
    answer_free(&a);

    /* every server failing: the last one's error, how many were tried */
    snprintf(url, sizeof url, "http://u:pa55word@127.0.0.1:%d/v1,http://u:pa55word@127.0.0.1:%d/v1",
             dead_port(), dead_port());
    memset(&a, 0, sizeof a);
    ask_url(url, &a);
    CHECK(a.rc != 0);
    CHECK_CONTAINS(a.err.msg, "generator server http://127.0.0.1:");
    CHECK_CONTAINS(a.err.msg, "(2 servers tried)");
    CHECK(strstr(a.err.msg, "pa55word") == NULL);
    answer_free(&a);
}

/* ---- remote embeddings -------------------------------------------------------------- */

#define JSON_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
#define PROBE JSON_HEAD "{\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[3,4]}]}"

/* Opens a remote embedder on a fake server answering responses[0..n) (the
 * first is the probe's), then embeds texts[0..n_texts) in batches of 2. */
static int embed_remote(const char *const *responses, size_t n, const char *const *texts,
                        size_t n_texts, float *out, emb_model **m, char **request, rag_err *err)
{
    fake f;
    fake_start(&f, responses, n);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", f.port);
    emb_remote_params rp;
    emb_remote_default_params(&rp);
    rp.url = url;
    rp.model = "m";
    rp.retries = 0;
    rp.batch = 2;
    int rc = emb_model_open_remote(&rp, m, err);
    if (!rc && n_texts) rc = emb_embed(*m, texts, n_texts, EMB_DOCUMENT, 1, out, NULL, err);
    *request = fake_stop(&f);
    return rc;
}

static void test_remote_embeddings(void)
{
    static const char *const answers[] = {
        PROBE,
        JSON_HEAD "{\"data\":[{\"index\":1,\"embedding\":[1,0]},{\"index\":0,\"embedding\":[0,2]}],"
                  "\"usage\":{\"prompt_tokens\":9}}",
        JSON_HEAD "{\"object\":\"list\",\"data\":[{\"index\":0,\"embedding\":[-5,0]}]}"};
    static const char *const texts[] = {"first text", "second", "third"};
    float v[6];
    emb_model *m = NULL;
    char *req;
    rag_err err = {0};
    CHECK_INT(embed_remote(answers, 3, texts, 3, v, &m, &req, &err), 0);
    if (!m) return;
    const float want[] = {0, 1, 1, 0, -1, 0}; /* in the inputs' order, normalised */
    for (int i = 0; i < 6; i++)
        CHECK(v[i] == want[i]);
    CHECK_INT(emb_dims(m), 2);
    CHECK_INT(emb_max_tokens(m), 512);
    CHECK(emb_vocab(m) == NULL);
    CHECK_INT(emb_count_tokens(m, "twelve bytes", 12), 3);
    const emb_identity *id = emb_model_identity(m);
    CHECK_STR(id->name, "m");
    CHECK_STR(emb_pooling_name(id->pooling), "remote");
    CHECK_STR(id->query_prefix, "");
    char sha[65];
    rag_sha256_hex("openai-compatible:m", 19, sha);
    CHECK_STR(id->file_sha256, sha);
    float score;
    const char *passage = "p";
    CHECK_INT(emb_rerank(m, "q", &passage, 1, &score, &err), RAG_ERR_UNSUPPORTED);
    CHECK_CONTAINS(req, "POST /v1/embeddings ");
    CHECK_CONTAINS(
        req, "{\"model\":\"m\",\"input\":[\"first text\",\"second\"],\"encoding_format\":\"float\","
             "\"input_type\":\"document\"}");
    CHECK_CONTAINS(req, "\"input\":[\"third\"]");
    uint64_t tokens;
    double secs;
    emb_model_stats(m, &tokens, &secs);
    CHECK_INT(tokens, 4 + 9 + 2); /* the probe's estimate, the server's count, the last estimate */
    emb_model_close(m);
    rag_free(req);
}

/* A second answer that is refused for `why`. */
static void expect_refused(const char *second, const char *why)
{
    const char *answers[] = {PROBE, second};
    static const char *const texts[] = {"a", "b"};
    float v[4];
    emb_model *m = NULL;
    char *req;
    rag_err err = {0};
    CHECK_INT(embed_remote(answers, 2, texts, 2, v, &m, &req, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "embedding server http://127.0.0.1:");
    CHECK_CONTAINS(err.msg, "/v1/embeddings: ");
    CHECK_CONTAINS(err.msg, why);
    emb_model_close(m);
    rag_free(req);
}

/* An embedder behind a pool whose first server is dead: it opens and
 * embeds through the other. */
static void test_remote_embeddings_pool(void)
{
    static const char *const answers[] = {PROBE, JSON_HEAD
                                          "{\"data\":[{\"index\":0,\"embedding\":[0,2]}]}"};
    fake f;
    fake_start(&f, answers, 2);
    char url[160];
    snprintf(url, sizeof url, "http://u:pa55word@127.0.0.1:%d/v1,http://127.0.0.1:%d/v1",
             dead_port(), f.port);
    emb_remote_params rp;
    emb_remote_default_params(&rp);
    rp.url = url;
    rp.model = "m";
    emb_model *m = NULL;
    rag_err err = {0};
    CHECK_INT(emb_model_open_remote(&rp, &m, &err), 0);
    float v[2] = {0};
    const char *text = "one";
    if (m) CHECK_INT(emb_embed(m, &text, 1, EMB_DOCUMENT, 1, v, NULL, &err), 0);
    char *req = fake_stop(&f);
    CHECK(v[0] == 0 && v[1] == 1);
    const net_pool *p = emb_model_pool(m);
    CHECK(p != NULL);
    if (p) {
        CHECK(strstr(net_pool_shown(p), "pa55word") == NULL);
        net_pool_stats dead, live;
        net_pool_stats_get(p, 0, &dead);
        net_pool_stats_get(p, 1, &live);
        CHECK_INT(dead.up, 0); /* marked down at the probe, skipped after */
        CHECK_INT(dead.requests, 1);
        CHECK_INT(dead.failures, 1);
        CHECK_INT(live.up, 1);
        CHECK_INT(live.requests, 2);
        CHECK_INT(live.failures, 0);
    }
    rag_free(req);
    emb_model_close(m);
}

static void test_remote_embeddings_refused(void)
{
    expect_refused(
        JSON_HEAD
        "{\"data\":[{\"index\":0,\"embedding\":[1,2,3]},{\"index\":1,\"embedding\":[1,2]}]}",
        "data[0].embedding has 3 values, not the model's 2");
    expect_refused(
        JSON_HEAD
        "{\"data\":[{\"index\":1,\"embedding\":[1,2]},{\"index\":1,\"embedding\":[1,2]}]}",
        "input 1 came back twice");
    expect_refused(JSON_HEAD "{\"data\":[{\"index\":0,\"embedding\":[1,2]}]}",
                   "1 embeddings for 2 inputs");
    expect_refused(
        JSON_HEAD
        "{\"data\":[{\"index\":0,\"embedding\":[1,\"x\"]},{\"index\":1,\"embedding\":[1,2]}]}",
        "holds a non-number");
    expect_refused(
        JSON_HEAD
        "{\"data\":[{\"index\":5,\"embedding\":[1,2]},{\"index\":1,\"embedding\":[1,2]}]}",
        "data[0].index is not an input's index");
    expect_refused(
        JSON_HEAD
        "{\"data\":[{\"index\":0,\"embedding\":\"AAAA\"},{\"index\":1,\"embedding\":[1,2]}]}",
        "data[0].embedding is not an array of numbers");
    expect_refused(JSON_HEAD "[1,2]", "the answer is not {\"data\": [...]}");
    /* and at the probe: no dimension to learn */
    const char *empty[] = {JSON_HEAD "{\"data\":[{\"index\":0,\"embedding\":[]}]}"};
    emb_model *m = NULL;
    char *req;
    rag_err err = {0};
    CHECK_INT(embed_remote(empty, 1, NULL, 0, NULL, &m, &req, &err), RAG_ERR_FORMAT);
    CHECK(m == NULL);
    CHECK_CONTAINS(err.msg, "has 0 values (1 to 16384 expected)");
    rag_free(req);
}

int main(void)
{
    RUN(test_events);
    RUN(test_stop_and_limit);
    RUN(test_remote_answer);
    RUN(test_remote_reasoning);
    RUN(test_remote_stop);
    RUN(test_remote_failures);
    RUN(test_remote_pool);
    RUN(test_remote_embeddings);
    RUN(test_remote_embeddings_refused);
    RUN(test_remote_embeddings_pool);
    return test_summary();
}
