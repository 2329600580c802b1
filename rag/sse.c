/* rag/sse.c: the server-sent events reader (see rag/sse.h). */
#include "rag/sse.h"
#include "base/err.h"

#include <string.h>

void rag_sse_init(rag_sse *s, size_t max_event)
{
    memset(s, 0, sizeof *s);
    s->max_event = max_event;
}

void rag_sse_free(rag_sse *s)
{
    rag_buf_free(&s->line);
    rag_buf_free(&s->data);
    memset(s, 0, sizeof *s);
}

/* Hands on the event read so far, if it has data. */
static int dispatch(rag_sse *s, rag_sse_fn on_event, void *ctx)
{
    if (!s->data.len) return 0;
    s->data.data[--s->data.len] = 0; /* the '\n' after the last data line */
    int rc = on_event(ctx, s->data.data, s->data.len);
    rag_buf_clear(&s->data);
    return rc;
}

/* A complete line (in s->line, without its line end). */
static int end_line(rag_sse *s, rag_sse_fn on_event, void *ctx)
{
    const char *l = rag_buf_str(&s->line);
    size_t n = s->line.len;
    int rc = 0;
    if (n == 0) {
        rc = dispatch(s, on_event, ctx);
    } else if (l[0] != ':') { /* not a comment: "field" or "field:value" */
        const char *colon = memchr(l, ':', n);
        size_t field = colon ? (size_t)(colon - l) : n;
        if (field == 4 && !memcmp(l, "data", 4)) {
            const char *v = colon ? colon + 1 : l + n, *end = l + n;
            if (v < end && *v == ' ') v++;
            if (s->data.len + (size_t)(end - v) + 1 > s->max_event)
                rc = RAG_ERR_LIMIT;
            else {
                rag_buf_append(&s->data, v, (size_t)(end - v));
                rag_buf_putc(&s->data, '\n');
            }
        }
    }
    rag_buf_clear(&s->line);
    return rc;
}

int rag_sse_feed(rag_sse *s, const char *p, size_t n, rag_sse_fn on_event, void *ctx)
{
    size_t i = 0;
    while (i < n) {
        if (s->after_cr) { /* the LF of a CRLF that was cut between two reads */
            s->after_cr = 0;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        if (s->line.len + (j - i) > s->max_event) return RAG_ERR_LIMIT;
        rag_buf_append(&s->line, p + i, j - i);
        if (j == n) break;
        s->after_cr = p[j] == '\r';
        i = j + 1;
        int rc = end_line(s, on_event, ctx);
        if (rc) return rc;
    }
    return 0;
}

int rag_sse_end(rag_sse *s, rag_sse_fn on_event, void *ctx)
{
    int rc = s->line.len ? end_line(s, on_event, ctx) : 0;
    return rc ? rc : dispatch(s, on_event, ctx);
}
