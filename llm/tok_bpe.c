/* llm/tok_bpe.c: byte-level BPE (tokenizer.ggml.model = "gpt2"): the GPT-2
 * byte-to-unicode mapping, the merge table, and encoding one piece.
 *
 * GPT-2's vocabulary is written over a 256-character alphabet: each byte
 * stands for one printable character (printable Latin-1 bytes for
 * themselves, the others for U+0100 + n). A piece of text is first mapped
 * byte by byte into that alphabet, then adjacent symbols are merged, always
 * the pair whose merge comes first in tokenizer.ggml.merges (ties: the
 * leftmost), until no listed pair is left; each final symbol is a token.
 * This is llama.cpp's llm_tokenizer_bpe_session.
 *
 * Merges are resolved once at load time into integer form: every string
 * that appears in a merge gets an id in the vocabulary's string table (token
 * ids for tokens, fresh ids past n_vocab for the rare side or result that is
 * not a token), and the table maps (left id, right id) to (rank, result id).
 * A symbol is then just a string id and merging needs no string work. */
#include "llm/tok_int.h"
#include "base/utf8.h"

#include "base/heap.h"
#include "base/mem.h"

#include <string.h>

/* GPT-2's bytes_to_unicode(): the code point byte b is written as. */
static int32_t gpt2_cp_of_byte(unsigned b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return (int32_t)b;
    /* The 68 others, in byte order, become U+0100.. */
    if (b <= 0x20) return 0x100 + (int32_t)b;
    if (b <= 0xA0) return 0x100 + 33 + (int32_t)(b - 0x7F);
    return 0x100 + 67; /* 0xAD */
}

/* The inverse: the byte that code point cp stands for, or -1. */
static int gpt2_byte_of_cp(int32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return cp;
    if (cp < 0x100 || cp >= 0x100 + 68) return -1;
    int n = cp - 0x100;
    if (n <= 0x20) return n;
    if (n < 33 + 34) return 0x7F + (n - 33);
    return 0xAD;
}

/* UTF-8 of the character byte b is written as (1 or 2 bytes). */
static size_t gpt2_char(unsigned b, char out[2])
{
    int32_t cp = gpt2_cp_of_byte(b);
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

size_t tok_bpe_unmap(const char *s, size_t n, char *out)
{
    size_t o = 0, i = 0;
    while (i < n) {
        int32_t cp;
        size_t l = rag_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (l == 0) {
            out[o++] = s[i++];
            continue;
        }
        int b = gpt2_byte_of_cp(cp);
        if (b >= 0) {
            out[o++] = (char)b;
        } else {
            /* Not of the alphabet (a vocabulary that added raw text): as is. */
            memcpy(out + o, s + i, l);
            o += l;
        }
        i += l;
    }
    return o;
}

/* ---- merge table ------------------------------------------------------------- */

static size_t merge_slot(uint64_t key, size_t mask)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & mask;
}

static const tok_merge *merge_find(const llm_vocab *v, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return NULL;
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t j = merge_slot(key, v->merge_mask);; j = (j + 1) & v->merge_mask) {
        const tok_merge *m = &v->merge[j];
        if (m->key == key) return m;
        if (m->key == UINT64_MAX) return NULL;
    }
}

static int32_t intern(tok_strtab *t, const char *s, size_t n)
{
    int32_t id = tok_strtab_find(t, s, n);
    return id >= 0 ? id : tok_strtab_add(t, s, n);
}

int tok_bpe_load(llm_vocab *v, const llm_gguf *g, rag_err *err)
{
    static const char key[] = "tokenizer.ggml.merges";
    llm_gguf_type et;
    uint64_t n;
    int rc = llm_gguf_get_arr(g, key, &et, &n, err);
    if (rc == RAG_ERR_NOTFOUND)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: a gpt2 vocabulary needs %s", llm_gguf_path(g),
                           key);
    if (rc) return rc;
    if (et != LLM_GGUF_STRING)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: %s holds %s, expected strings",
                           llm_gguf_path(g), key, llm_gguf_type_name(et));
    if (n > (uint64_t)INT32_MAX / 4)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: %s has %llu entries, too many",
                           llm_gguf_path(g), key, (unsigned long long)n);
    int64_t kv = llm_gguf_find(g, key);

    size_t slots = 16;
    while (slots < n * 2)
        slots *= 2;
    v->merge = rag_xmalloc(slots * sizeof *v->merge);
    for (size_t j = 0; j < slots; j++)
        v->merge[j].key = UINT64_MAX;
    v->merge_mask = slots - 1;

    char *cat = NULL;
    size_t cat_cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        llm_gguf_arr_str(g, kv, i, &s, &len);
        /* "left right": the separator is the first space after the first
         * byte (a side may itself be a lone space in odd vocabularies). */
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp) continue; /* cannot apply to anything; llama.cpp keeps it inert too */
        size_t nl = (size_t)(sp - s), nr = len - nl - 1;
        cat = rag_xgrow(cat, &cat_cap, nl + nr + 1, 1);
        memcpy(cat, s, nl);
        memcpy(cat + nl, sp + 1, nr);
        int32_t l = intern(&v->str, s, nl), r = intern(&v->str, sp + 1, nr);
        int32_t res = intern(&v->str, cat, nl + nr);
        if (l < 0 || r < 0 || res < 0) {
            rag_free(cat);
            return rag_err_set(err, RAG_ERR_LIMIT, "%s: %s: too much text", llm_gguf_path(g), key);
        }
        uint64_t k = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
        size_t j = merge_slot(k, v->merge_mask);
        while (v->merge[j].key != UINT64_MAX && v->merge[j].key != k)
            j = (j + 1) & v->merge_mask;
        if (v->merge[j].key == k) continue; /* a repeated merge keeps its first rank */
        v->merge[j].key = k;
        v->merge[j].rank = (int32_t)i;
        v->merge[j].result = res;
    }
    rag_free(cat);

    for (unsigned b = 0; b < 256; b++) {
        char c[2];
        size_t cl = gpt2_char(b, c);
        v->byte_sid[b] = tok_strtab_find(&v->str, c, cl);
    }
    return 0;
}

/* ---- encoding ------------------------------------------------------------------ */

typedef struct bpe_sym {
    int32_t prev, next;
    int32_t sid; /* string id of the symbol's text, -1 = none */
    uint32_t n;  /* bytes of the piece it covers; 0 once merged away */
} bpe_sym;

typedef struct bpe_pair {
    int32_t rank, left, right;
    int32_t lsid, rsid, result;
} bpe_pair;

typedef struct bpe_work {
    bpe_sym *sym;
    size_t sym_cap;
    rag_heap heap; /* of bpe_pair */
    char *enc;
    size_t enc_cap;
} bpe_work;

/* Heap order: lowest rank first, then leftmost. */
static int pair_before(const void *va, const void *vb)
{
    const bpe_pair *a = va, *b = vb;
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(bpe_work *w, bpe_pair p)
{
    rag_heap_push(&w->heap, &p, sizeof p, pair_before);
}

static bpe_pair heap_pop(bpe_work *w)
{
    bpe_pair top;
    rag_heap_pop(&w->heap, &top, sizeof top, pair_before);
    return top;
}

static void try_pair(const llm_vocab *v, bpe_work *w, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return;
    const tok_merge *m = merge_find(v, w->sym[left].sid, w->sym[right].sid);
    if (!m) return;
    bpe_pair p = {m->rank, left, right, w->sym[left].sid, w->sym[right].sid, m->result};
    heap_push(w, p);
}

static void emit_bytes(const llm_vocab *v, const uint8_t *s, size_t n, llm_tokens *out)
{
    for (size_t i = 0; i < n; i++) {
        int32_t id = v->byte_sid[s[i]];
        if (id >= 0 && id < v->n_vocab)
            tok_push(out, id);
        else if (v->sp.unk >= 0)
            tok_push(out, v->sp.unk);
    }
}

static void encode_piece(const llm_vocab *v, bpe_work *w, const uint8_t *s, size_t n,
                         llm_tokens *out)
{
    if (v->ignore_merges) {
        /* Llama-3 style: a piece that is a whole token is taken as is. */
        w->enc = rag_xgrow(w->enc, &w->enc_cap, 2 * n, 1);
        size_t el = 0;
        for (size_t i = 0; i < n; i++)
            el += gpt2_char(s[i], w->enc + el);
        int32_t id = tok_strtab_find(&v->str, w->enc, el);
        if (id >= 0 && id < v->n_vocab) {
            tok_push(out, id);
            return;
        }
    }
    w->sym = rag_xgrow(w->sym, &w->sym_cap, n, sizeof *w->sym);
    bpe_sym *sym = w->sym;
    for (size_t i = 0; i < n; i++) {
        sym[i].prev = (int32_t)i - 1;
        sym[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
        sym[i].sid = v->byte_sid[s[i]];
        sym[i].n = 1;
    }
    w->heap.n = 0;
    for (size_t i = 1; i < n; i++)
        try_pair(v, w, (int32_t)i - 1, (int32_t)i);
    while (w->heap.n) {
        bpe_pair p = heap_pop(w);
        bpe_sym *l = &sym[p.left], *r = &sym[p.right];
        /* Stale: one side was merged into something else meanwhile. */
        if (l->n == 0 || r->n == 0 || l->sid != p.lsid || r->sid != p.rsid) continue;
        l->sid = p.result;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = p.left;
        try_pair(v, w, l->prev, p.left);
        try_pair(v, w, p.left, l->next);
    }
    size_t at = 0;
    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        if (sym[i].sid >= 0 && sym[i].sid < v->n_vocab)
            tok_push(out, sym[i].sid);
        else /* not a token (only in broken vocabularies): its bytes, one by one */
            emit_bytes(v, s + at, sym[i].n, out);
        at += sym[i].n;
    }
}

int tok_bpe_encode(const llm_vocab *v, const char *text, size_t len, llm_tokens *out, rag_err *err)
{
    tok_spans pieces = {0};
    int rc = tok_pre_split(v->pretok, text, len, &pieces, err);
    if (!rc) {
        bpe_work w = {0};
        for (size_t i = 0; i < pieces.n; i++)
            encode_piece(v, &w, (const uint8_t *)text + pieces.v[i].off, pieces.v[i].len, out);
        rag_free(w.sym);
        rag_heap_free(&w.heap);
        rag_free(w.enc);
    }
    rag_free(pieces.v);
    return rc;
}
