/* base/buf.c: growable buffers and string lists. */
#include "base/buf.h"
#include "base/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rag_buf_reserve(rag_buf *b, size_t extra)
{
    b->data = rag_xgrow(b->data, &b->cap, b->len + extra + 1, 1);
}

void rag_buf_append(rag_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) rag_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void rag_buf_puts(rag_buf *b, const char *s)
{
    rag_buf_append(b, s, strlen(s));
}

void rag_buf_putc(rag_buf *b, char c)
{
    rag_buf_append(b, &c, 1);
}

void rag_buf_printf(rag_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    rag_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rag_buf_clear(rag_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void rag_buf_free(rag_buf *b)
{
    rag_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *rag_buf_steal(rag_buf *b)
{
    if (!b->data) return rag_xstrdup("");
    char *d = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

const char *rag_buf_str(const rag_buf *b)
{
    return b->data ? b->data : "";
}

void rag_strv_pushn(rag_strv *sv, const char *s, size_t n)
{
    sv->v = rag_xgrow(sv->v, &sv->cap, sv->n + 1, sizeof *sv->v);
    sv->v[sv->n++] = rag_xstrndup(s, n);
}

void rag_strv_push(rag_strv *sv, const char *s)
{
    rag_strv_pushn(sv, s, strlen(s));
}

void rag_strv_pushf(rag_strv *sv, const char *fmt, ...)
{
    rag_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    rag_buf_reserve(&b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b.data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rag_strv_pushn(sv, b.data, (size_t)n);
    rag_buf_free(&b);
}

void rag_strv_free(rag_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        rag_free(sv->v[i]);
    rag_free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

void rag_strv_split(rag_strv *sv, const char *s, char sep)
{
    while (*s) {
        const char *e = strchr(s, sep);
        if (!e) e = s + strlen(s);
        const char *a = s, *z = e;
        while (a < z && (*a == ' ' || *a == '\t'))
            a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
            z--;
        if (z > a) rag_strv_pushn(sv, a, (size_t)(z - a));
        s = *e ? e + 1 : e;
    }
}

int rag_strv_contains(const rag_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void rag_strv_sort_unique(rag_strv *sv)
{
    if (sv->n < 2) return;
    qsort(sv->v, sv->n, sizeof *sv->v, cmp_str);
    size_t w = 1;
    for (size_t r = 1; r < sv->n; r++) {
        if (strcmp(sv->v[r], sv->v[w - 1]) == 0)
            rag_free(sv->v[r]);
        else
            sv->v[w++] = sv->v[r];
    }
    sv->n = w;
}

char *rag_strv_join(const rag_strv *sv, const char *sep)
{
    rag_buf b = {0};
    for (size_t i = 0; i < sv->n; i++) {
        if (i) rag_buf_puts(&b, sep);
        rag_buf_puts(&b, sv->v[i]);
    }
    return rag_buf_steal(&b);
}
