/* rag/ids.c: keyed permutation of document and chunk ids (see rag/ids.h). */
#include "rag/ids.h"

#include <stdio.h>
#include <string.h>

#define ROUNDS 6

static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

/* SipHash-2-4 of one 8-byte message m. */
static uint64_t siphash8(const rag_ids *k, uint64_t m)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k->k0, v1 = 0x646f72616e646f6dULL ^ k->k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k->k0, v3 = 0x7465646279746573ULL ^ k->k1;
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
    uint64_t b = (uint64_t)8 << 56; /* the length byte, no tail */
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint32_t round_fn(const rag_ids *k, int kind, int round, uint32_t half)
{
    return (uint32_t)siphash8(k, ((uint64_t)(unsigned)kind << 48) |
                                     ((uint64_t)(unsigned)round << 32) | half);
}

static uint64_t permute(const rag_ids *k, int kind, uint64_t x)
{
    uint32_t l = (uint32_t)(x >> 32), r = (uint32_t)x;
    for (int i = 0; i < ROUNDS; i++) {
        uint32_t t = l ^ round_fn(k, kind, i, r);
        l = r;
        r = t;
    }
    return ((uint64_t)l << 32) | r;
}

static uint64_t unpermute(const rag_ids *k, int kind, uint64_t y)
{
    uint32_t l = (uint32_t)(y >> 32), r = (uint32_t)y;
    for (int i = ROUNDS - 1; i >= 0; i--) {
        uint32_t t = r ^ round_fn(k, kind, i, l);
        r = l;
        l = t;
    }
    return ((uint64_t)l << 32) | r;
}

int rag_ids_load(store *s, rag_ids *out, rag_err *err)
{
    unsigned char key[16];
    int rc = store_secret(s, "api.id_key", key, sizeof key, err);
    if (rc) return rc;
    out->k0 = out->k1 = 0;
    for (int i = 7; i >= 0; i--) {
        out->k0 = (out->k0 << 8) | key[i];
        out->k1 = (out->k1 << 8) | key[8 + i];
    }
    return 0;
}

void rag_id_format(const rag_ids *k, int kind, int64_t id, char out[RAG_ID_LEN + 1])
{
    snprintf(out, RAG_ID_LEN + 1, "%016llx", (unsigned long long)permute(k, kind, (uint64_t)id));
}

int rag_id_parse(const rag_ids *k, int kind, const char *s, int64_t *id)
{
    if (strlen(s) != RAG_ID_LEN) return -1;
    uint64_t y = 0;
    for (const char *p = s; *p; p++) {
        int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (v < 0) return -1;
        y = (y << 4) | (uint64_t)v;
    }
    uint64_t x = unpermute(k, kind, y);
    *id = x <= (uint64_t)INT64_MAX ? (int64_t)x : 0; /* 0: no document, looked up all the same */
    return 0;
}
