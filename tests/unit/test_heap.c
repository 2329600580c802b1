/* base/heap.h: the order of the pops against qsort and against a plain scan,
 * ties, elements of several sizes, reuse after emptying. */
#include "base/heap.h"
#include "base/mem.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
    float score;
    int32_t id;
} item;

/* Highest score first, then lowest id: a total order (ids are distinct). */
static int item_before(const void *va, const void *vb)
{
    const item *a = va, *b = vb;
    return a->score > b->score || (a->score == b->score && a->id < b->id);
}

static int item_cmp(const void *a, const void *b)
{
    return item_before(a, b) ? -1 : item_before(b, a) ? 1 : 0;
}

/* Highest score first, ties left as they fall. */
static int score_before(const void *va, const void *vb)
{
    const item *a = va, *b = vb;
    return a->score > b->score;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* n items, scores among `distinct` values (few values: many ties), ids
 * 0..n-1 in shuffled order. */
static item *random_items(size_t n, uint32_t distinct)
{
    item *v = rag_xmalloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (item){(float)(next_rand() % distinct) * 0.5f, (int32_t)i};
    for (size_t i = n; i > 1; i--) {
        size_t j = next_rand() % i;
        int32_t t = v[i - 1].id;
        v[i - 1].id = v[j].id;
        v[j].id = t;
    }
    return v;
}

/* Pushing everything, then popping everything, gives qsort's order exactly,
 * ties included (broken by id). */
static void test_pops_in_sorted_order(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 100, 1000, 4097};
    static const uint32_t distinct[] = {1, 3, 1000000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        for (size_t d = 0; d < sizeof distinct / sizeof *distinct; d++) {
            size_t n = sizes[s];
            item *v = random_items(n, distinct[d]);
            rag_heap h = {0};
            for (size_t i = 0; i < n; i++)
                rag_heap_push(&h, &v[i], sizeof v[i], item_before);
            CHECK_INT(h.n, n);
            qsort(v, n, sizeof *v, item_cmp);
            size_t wrong = 0;
            for (size_t i = 0; i < n; i++) {
                item got;
                rag_heap_pop(&h, &got, sizeof got, item_before);
                wrong += got.score != v[i].score || got.id != v[i].id;
            }
            if (wrong)
                printf("    n=%zu, %u scores: %zu pops out of order\n", n, distinct[d], wrong);
            CHECK_INT(wrong, 0);
            CHECK_INT(h.n, 0);
            rag_heap_free(&h);
            rag_free(v);
        }
    }
}

/* Pushes and pops interleaved: every pop is the first of what is held, as a
 * plain scan finds it. */
static void test_interleaved_against_scan(void)
{
    enum { OPS = 20000 };
    item *held = rag_xmalloc(OPS * sizeof *held);
    size_t n_held = 0, wrong = 0;
    int32_t next_id = 0;
    rag_heap h = {0};
    for (int op = 0; op < OPS; op++) {
        if (n_held == 0 || next_rand() % 3 != 0) {
            item x = {(float)(next_rand() % 5), next_id++};
            rag_heap_push(&h, &x, sizeof x, item_before);
            held[n_held++] = x;
        } else {
            size_t best = 0;
            for (size_t i = 1; i < n_held; i++)
                if (item_before(&held[i], &held[best])) best = i;
            item got;
            rag_heap_pop(&h, &got, sizeof got, item_before);
            wrong += got.id != held[best].id || got.score != held[best].score;
            held[best] = held[--n_held];
        }
        if (h.n != n_held) {
            CHECK_INT(h.n, n_held);
            break;
        }
    }
    CHECK_INT(wrong, 0);
    rag_heap_free(&h);
    rag_free(held);
}

/* An order with ties left open: scores come out non-increasing and every
 * element comes out once. */
static void test_ties_without_tiebreak(void)
{
    size_t n = 3000;
    item *v = random_items(n, 4);
    rag_heap h = {0};
    for (size_t i = 0; i < n; i++)
        rag_heap_push(&h, &v[i], sizeof v[i], score_before);
    unsigned char *seen = rag_xcalloc(n, 1);
    size_t unordered = 0, repeated = 0;
    float last = 1e30f;
    for (size_t i = 0; i < n; i++) {
        item got;
        rag_heap_pop(&h, &got, sizeof got, score_before);
        unordered += got.score > last;
        last = got.score;
        repeated += seen[got.id]++ != 0;
    }
    CHECK_INT(unordered, 0);
    CHECK_INT(repeated, 0);
    CHECK_INT(h.n, 0);
    rag_free(seen);
    rag_heap_free(&h);
    rag_free(v);
}

/* Elements are copied whole, whatever their size: a 4-byte int (smallest
 * first) and a 40-byte record whose payload must come out with its key. */
typedef struct wide {
    uint64_t key;
    char payload[32];
} wide;

static int int_before(const void *a, const void *b)
{
    return *(const int *)a < *(const int *)b;
}

static int wide_before(const void *a, const void *b)
{
    return ((const wide *)a)->key < ((const wide *)b)->key;
}

static void test_element_sizes(void)
{
    rag_heap h = {0};
    int ref[500];
    for (int i = 0; i < 500; i++) {
        ref[i] = (int)(next_rand() % 1000) - 500;
        rag_heap_push(&h, &ref[i], sizeof ref[i], int_before);
    }
    int prev = -1000;
    size_t unordered = 0;
    for (int i = 0; i < 500; i++) {
        int x;
        rag_heap_pop(&h, &x, sizeof x, int_before);
        unordered += x < prev;
        prev = x;
    }
    CHECK_INT(unordered, 0);
    rag_heap_free(&h);

    size_t bad = 0;
    for (uint64_t i = 0; i < 300; i++) {
        wide w = {(i * 7919) % 300, {0}};
        snprintf(w.payload, sizeof w.payload, "payload of %llu", (unsigned long long)w.key);
        rag_heap_push(&h, &w, sizeof w, wide_before);
    }
    for (uint64_t i = 0; i < 300; i++) {
        wide w;
        char want[32];
        rag_heap_pop(&h, &w, sizeof w, wide_before);
        snprintf(want, sizeof want, "payload of %llu", (unsigned long long)i);
        bad += w.key != i || strcmp(w.payload, want) != 0;
    }
    CHECK_INT(bad, 0);
    rag_heap_free(&h);
}

/* Emptied by n = 0 (as the tokenizers do between segments) the heap keeps its
 * memory and works again; rag_heap_free gives all of it back. */
static void test_reuse_and_free(void)
{
    size_t before = rag_mem_in_use();
    rag_heap h = {0};
    for (int round = 0; round < 3; round++) {
        h.n = 0;
        for (int i = 0; i < 50; i++) {
            item x = {(float)((i * 13) % 50), i};
            rag_heap_push(&h, &x, sizeof x, item_before);
        }
        for (int i = 0; i < 10; i++) {
            item got;
            rag_heap_pop(&h, &got, sizeof got, item_before);
            CHECK_INT((int)got.score, 49 - i);
        }
        CHECK_INT(h.n, 40);
    }
    CHECK(h.cap >= 50);
    rag_heap_free(&h);
    CHECK(h.v == NULL && h.n == 0 && h.cap == 0);
    CHECK(rag_mem_in_use() == before);
    rag_heap_free(&h); /* twice is harmless */
}

int main(void)
{
    RUN(test_pops_in_sorted_order);
    RUN(test_interleaved_against_scan);
    RUN(test_ties_without_tiebreak);
    RUN(test_element_sizes);
    RUN(test_reuse_and_free);
    return test_summary();
}
