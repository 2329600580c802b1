/* rag/sse.h: reading server-sent events (text/event-stream), the form in
 * which an OpenAI-compatible server streams an answer.
 *
 * Bytes are fed as they arrive, cut anywhere (inside a line, between a CR
 * and its LF). Lines end with LF, CRLF or CR. A line starting with ':' is a
 * comment (servers send them to keep a connection alive); "data:" lines
 * (one optional space after the colon) are joined with '\n'; a blank line
 * ends an event, which is handed on when it had data. Other fields (event,
 * id, retry) are ignored: OpenAI-style streams carry everything in data.
 * A line or an event longer than the limit fails with RAG_ERR_LIMIT, so a
 * server cannot make the reader buffer without bound. */
#ifndef RAG_RAG_SSE_H
#define RAG_RAG_SSE_H

#include "base/buf.h"

#include <stddef.h>

/* One event's data (NUL-terminated, len bytes); non-zero stops reading. */
typedef int (*rag_sse_fn)(void *ctx, const char *data, size_t len);

typedef struct rag_sse {
    rag_buf line;     /* the line being read */
    rag_buf data;     /* the event's data lines so far, each ending in '\n' */
    size_t max_event; /* bytes a line or an event's data may take */
    int after_cr;     /* the last byte was a CR: an LF now ends nothing more */
} rag_sse;

void rag_sse_init(rag_sse *s, size_t max_event);
/* Reads bytes, calling on_event for every event they complete. Returns 0,
 * the callback's non-zero value (reading stops there), or RAG_ERR_LIMIT. */
int rag_sse_feed(rag_sse *s, const char *p, size_t n, rag_sse_fn on_event, void *ctx);
/* At the end of the stream: a last line without its line end, and an event
 * without its blank line, are handed on too (servers that end on
 * "data: [DONE]\n" rely on readers being that lenient). */
int rag_sse_end(rag_sse *s, rag_sse_fn on_event, void *ctx);
void rag_sse_free(rag_sse *s);

#endif
