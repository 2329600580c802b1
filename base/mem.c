/* base/mem.c: aborting allocators with a running total of bytes in use. */
#include "base/mem.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static atomic_size_t mem_in_use;

static void *oom(size_t n)
{
    fprintf(stderr, "rag: out of memory allocating %zu bytes\n", n);
    abort();
}

static void *account(void *p, size_t n)
{
    if (!p) return oom(n);
    atomic_fetch_add(&mem_in_use, malloc_usable_size(p));
    return p;
}

void *rag_xmalloc(size_t n)
{
    return account(malloc(n ? n : 1), n);
}

void *rag_xcalloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return oom(SIZE_MAX);
    return account(calloc(n ? n : 1, size ? size : 1), n * size);
}

/* calloc'd with a line to spare; the block's own address is kept just
 * before the aligned one (malloc aligns to 16, so there are 16 bytes at
 * least). */
void *rag_xcalloc_lines(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return oom(SIZE_MAX);
    size_t bytes = n * size;
    if (bytes > SIZE_MAX - 64) return oom(SIZE_MAX);
    uint8_t *raw = rag_xcalloc(bytes + 64, 1);
    uint8_t *p = raw + (64 - (uintptr_t)raw % 64);
    memcpy(p - sizeof raw, &raw, sizeof raw);
    return p;
}

void rag_free_lines(void *p)
{
    if (!p) return;
    uint8_t *raw;
    memcpy(&raw, (uint8_t *)p - sizeof raw, sizeof raw);
    rag_free(raw);
}

#define HUGE_PAGE ((size_t)2 << 20)

/* Mapped with a huge page to spare, the part before the first boundary
 * and after the last page given back. */
void *rag_xalloc_huge(size_t n)
{
    size_t len = (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    if (!n || len < n) return oom(n);
    uint8_t *raw =
        mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return oom(n);
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    if (p + len < raw + len + HUGE_PAGE)
        munmap(p + len, (size_t)(raw + len + HUGE_PAGE - (p + len)));
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE); /* a request: without it, 4 KiB pages */
#endif
    atomic_fetch_add(&mem_in_use, len);
    return p;
}

void rag_free_huge(void *p, size_t n)
{
    if (!p) return;
    size_t len = (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    munmap(p, len);
    atomic_fetch_sub(&mem_in_use, len);
}

void *rag_xrealloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, n ? n : 1);
    if (!q) return oom(n);
    atomic_fetch_sub(&mem_in_use, old);
    atomic_fetch_add(&mem_in_use, malloc_usable_size(q));
    return q;
}

void *rag_xgrow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 8;
    while (c < need) {
        if (c > SIZE_MAX / 2) return oom(SIZE_MAX);
        c *= 2;
    }
    if (size && c > SIZE_MAX / size) return oom(SIZE_MAX);
    p = rag_xrealloc(p, c * size);
    *cap = c;
    return p;
}

char *rag_xstrdup(const char *s)
{
    return rag_xstrndup(s, strlen(s));
}

char *rag_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = rag_xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

void rag_free(void *p)
{
    if (!p) return;
    atomic_fetch_sub(&mem_in_use, malloc_usable_size(p));
    free(p);
}

char *rag_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return rag_xstrdup("");
    char *s = rag_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

size_t rag_mem_in_use(void)
{
    return atomic_load(&mem_in_use);
}

int rag_mem_resident(size_t *anon, size_t *file)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long kb;
        if (sscanf(line, "RssAnon: %lu kB", &kb) == 1) *anon = (size_t)kb << 10, found |= 1;
        if (sscanf(line, "RssFile: %lu kB", &kb) == 1) *file = (size_t)kb << 10, found |= 2;
    }
    fclose(f);
    return found == 3 ? 0 : -1;
}

void rag_mem_tune(void)
{
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 16 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
}
