/* llm/tok_str.c: the tokenizers' string table (token text -> id), span and
 * token vectors, and the strict UTF-8 reader they share.
 *
 * Every tokenizer turns pieces of text into ids by exact lookup, millions of
 * times for a large input, so the table is an open-addressing hash index
 * (load factor <= 1/2, linear probing) over strings kept in one blob, with
 * each string's full 32-bit hash stored to skip most memcmp calls. */
#include "llm/tok_int.h"

#include "base/mem.h"

#include <string.h>

/* A 32-bit hash of a short byte string: 8 bytes at a time, multiply-mix. */
static uint32_t str_hash(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, s, 8);
        h = (h ^ k) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k |= (uint64_t)(uint8_t)s[i] << (8 * i);
    h = (h ^ k) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

static void rehash(tok_strtab *t, size_t n_slots)
{
    rag_free(t->slots);
    t->slots = rag_xmalloc(n_slots * sizeof *t->slots);
    memset(t->slots, 0xff, n_slots * sizeof *t->slots);
    t->mask = n_slots - 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = t->hash[i] & t->mask;
        while (t->slots[j] >= 0)
            j = (j + 1) & t->mask;
        t->slots[j] = (int32_t)i;
    }
}

void tok_strtab_init(tok_strtab *t, size_t expect)
{
    memset(t, 0, sizeof *t);
    size_t n_slots = 16;
    while (n_slots < expect * 2)
        n_slots *= 2;
    rehash(t, n_slots);
}

void tok_strtab_free(tok_strtab *t)
{
    rag_free(t->blob);
    rag_free(t->off);
    rag_free(t->len);
    rag_free(t->hash);
    rag_free(t->slots);
    memset(t, 0, sizeof *t);
}

int32_t tok_strtab_find(const tok_strtab *t, const char *s, size_t len)
{
    uint32_t h = str_hash(s, len);
    for (size_t j = h & t->mask;; j = (j + 1) & t->mask) {
        int32_t i = t->slots[j];
        if (i < 0) return -1;
        if (t->hash[i] == h && t->len[i] == len && !memcmp(t->blob + t->off[i], s, len)) return i;
    }
}

int32_t tok_strtab_add(tok_strtab *t, const char *s, size_t len)
{
    if (t->n >= INT32_MAX - 1 || len >= UINT32_MAX || t->blob_len + len + 1 >= UINT32_MAX)
        return -1;
    if (t->n == t->cap) {
        size_t cap = t->cap;
        t->off = rag_xgrow(t->off, &cap, t->n + 1, sizeof *t->off);
        cap = t->cap;
        t->len = rag_xgrow(t->len, &cap, t->n + 1, sizeof *t->len);
        cap = t->cap;
        t->hash = rag_xgrow(t->hash, &cap, t->n + 1, sizeof *t->hash);
        t->cap = cap;
    }
    t->blob = rag_xgrow(t->blob, &t->blob_cap, t->blob_len + len + 1, 1);
    memcpy(t->blob + t->blob_len, s, len);
    t->blob[t->blob_len + len] = 0;
    size_t i = t->n++;
    t->off[i] = (uint32_t)t->blob_len;
    t->len[i] = (uint32_t)len;
    t->hash[i] = str_hash(s, len);
    t->blob_len += len + 1;
    if (t->n * 2 > t->mask + 1) {
        rehash(t, (t->mask + 1) * 2);
    } else {
        size_t j = t->hash[i] & t->mask;
        while (t->slots[j] >= 0)
            j = (j + 1) & t->mask;
        t->slots[j] = (int32_t)i;
    }
    return (int32_t)i;
}

void tok_spans_push(tok_spans *s, size_t off, size_t len)
{
    if (s->n == s->cap) s->v = rag_xgrow(s->v, &s->cap, s->n + 1, sizeof *s->v);
    s->v[s->n].off = off;
    s->v[s->n].len = len;
    s->n++;
}

void tok_push(llm_tokens *t, int32_t id)
{
    if (t->n == t->cap) t->v = rag_xgrow(t->v, &t->cap, t->n + 1, sizeof *t->v);
    t->v[t->n++] = id;
}

void llm_tokens_free(llm_tokens *t)
{
    rag_free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}
