/* base/heap.h: a binary heap (priority queue) of fixed-size elements in a
 * growing array, for any element type.
 *
 * `before(a, b)` is non-zero when a must come out before b; a total order
 * (ties broken by the caller, e.g. by position) makes the order of the pops
 * fully defined. Elements are copied in and out by value.
 *
 * The element size and the order are passed to every call rather than kept in
 * the heap: push and pop are static inline, so that in each user the compiler
 * sees a constant size and a known function, and the heap runs as fast as one
 * written for that type (the tokenizers' merge queues are hot). */
#ifndef RAG_BASE_HEAP_H
#define RAG_BASE_HEAP_H

#include "base/mem.h"

#include <stddef.h>
#include <string.h>

typedef int (*rag_heap_before_fn)(const void *a, const void *b);

typedef struct rag_heap {
    void *v;    /* the elements, v[0] the first to come out */
    size_t n;   /* elements held (0: empty; set it to 0 to empty the heap) */
    size_t cap; /* room for, in elements */
} rag_heap;

/* Adds a copy of *x (size bytes; x must not point into the heap). */
static inline void rag_heap_push(rag_heap *h, const void *x, size_t size, rag_heap_before_fn before)
{
    if (h->n == h->cap) h->v = rag_xgrow(h->v, &h->cap, h->n + 1, size);
    unsigned char *v = h->v;
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(x, v + up * size)) break;
        memcpy(v + i * size, v + up * size, size);
        i = up;
    }
    memcpy(v + i * size, x, size);
}

/* Takes the first element out into *out (size bytes). The heap must not be
 * empty. */
static inline void rag_heap_pop(rag_heap *h, void *out, size_t size, rag_heap_before_fn before)
{
    unsigned char *v = h->v;
    memcpy(out, v, size);
    size_t n = --h->n, i = 0;
    /* The last element sifts down from the top; it stays where it is, at
     * v[n], until its place is found, as the moves only write below n. */
    const unsigned char *last = v + n * size;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(v + (c + 1) * size, v + c * size)) c++;
        if (!before(v + c * size, last)) break;
        memcpy(v + i * size, v + c * size, size);
        i = c;
    }
    if (n) memcpy(v + i * size, last, size);
}

/* Frees the array; the heap is empty and usable again. */
static inline void rag_heap_free(rag_heap *h)
{
    rag_free(h->v);
    *h = (rag_heap){0};
}

#endif
