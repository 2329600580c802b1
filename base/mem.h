/* base/mem.h: allocation with accounting.
 *
 * Out of memory is not a recoverable condition for this program (as in Redis
 * and git): the rag_x* allocators log and abort instead of returning NULL, so
 * the rest of the code is not littered with checks that are never exercised.
 * Allocations whose size comes from untrusted input must be bounded *before*
 * they reach these functions (see the limits in each parser). */
#ifndef RAG_BASE_MEM_H
#define RAG_BASE_MEM_H

#include <stddef.h>

void *rag_xmalloc(size_t n);
void *rag_xcalloc(size_t n, size_t size); /* aborts on overflow of n * size too */
/* Zeroed, on a 64-byte boundary (a cache line, a 512-bit vector): for the
 * buffers SIMD kernels stream through, where a load across two lines costs
 * twice. Like calloc, large ones take memory only as it is touched. Freed
 * with rag_free_lines. */
void *rag_xcalloc_lines(size_t n, size_t size);
void rag_free_lines(void *p);
/* Zeroed, on a 2 MiB boundary and in 2 MiB pages where the kernel allows
 * (transparent huge pages on request): for the largest buffers a program
 * streams through (a model's interleaved weights), which then fault in
 * 512 times less often and miss the TLB less. Freed with rag_free_huge
 * and the same n. */
void *rag_xalloc_huge(size_t n);
void rag_free_huge(void *p, size_t n);
void *rag_xrealloc(void *p, size_t n);
/* Grows an array of *cap elements of `size` bytes to hold at least `need`. */
void *rag_xgrow(void *p, size_t *cap, size_t need, size_t size);
char *rag_xstrdup(const char *s);
char *rag_xstrndup(const char *s, size_t n);
void rag_free(void *p);

/* Sets the process's malloc to keep freed memory (up to 64 MiB at the top of
 * the heap, blocks under 32 MiB from the heap rather than mmap). glibc's
 * defaults give the top of the heap back to the kernel whenever a large free
 * makes it exceed 128 KiB, and map and unmap every large block: SQLite's
 * statement journals and FTS5's buffers then cost a brk or munmap, and a TLB
 * shootdown, per document written (ingest ran 3x slower). Called first
 * thing by the programs' main functions (rag, ragd, the benches). */
void rag_mem_tune(void);

/* printf into a freshly allocated string. */
char *rag_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bytes currently held through these functions (approximate: usable sizes). */
size_t rag_mem_in_use(void);

/* Resident memory of this process (from /proc/self/status): anonymous
 * (heap, stacks) and file-backed (mapped files, e.g. model weights), in
 * bytes. Returns -1 when unavailable. */
int rag_mem_resident(size_t *anon, size_t *file);

#endif
