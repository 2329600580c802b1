/* base/buf.h: a growable byte buffer (always NUL-terminated) and a string list. */
#ifndef RAG_BASE_BUF_H
#define RAG_BASE_BUF_H

#include <stddef.h>

typedef struct rag_buf {
    char *data; /* owned; NUL-terminated when data != NULL */
    size_t len;
    size_t cap;
} rag_buf;

void rag_buf_reserve(rag_buf *b, size_t extra);
void rag_buf_append(rag_buf *b, const void *p, size_t n);
void rag_buf_puts(rag_buf *b, const char *s);
void rag_buf_putc(rag_buf *b, char c);
void rag_buf_printf(rag_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rag_buf_clear(rag_buf *b); /* len = 0, keeps memory */
void rag_buf_free(rag_buf *b);
/* Hands the bytes to the caller (free with rag_free); b is left empty. */
char *rag_buf_steal(rag_buf *b);
/* The contents, "" when nothing was appended (never NULL). */
const char *rag_buf_str(const rag_buf *b);

typedef struct rag_strv {
    char **v; /* owned strings */
    size_t n;
    size_t cap;
} rag_strv;

void rag_strv_push(rag_strv *sv, const char *s); /* copies s */
void rag_strv_pushn(rag_strv *sv, const char *s, size_t n);
void rag_strv_pushf(rag_strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rag_strv_free(rag_strv *sv);
/* Splits `s` on `sep`, trims spaces, drops empty items. */
void rag_strv_split(rag_strv *sv, const char *s, char sep);
int rag_strv_contains(const rag_strv *sv, const char *s);
/* Sorts and removes duplicates. */
void rag_strv_sort_unique(rag_strv *sv);
/* Joins with `sep` into a new string (free with rag_free). */
char *rag_strv_join(const rag_strv *sv, const char *sep);

#endif
