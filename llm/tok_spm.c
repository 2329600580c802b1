/* llm/tok_spm.c: SentencePiece BPE (tokenizer.ggml.model = "llama").
 *
 * Spaces become "▁" (U+2581) and, when the vocabulary asks for it
 * (tokenizer.ggml.add_space_prefix), the text gets one in front. The text is
 * cut into characters; then, repeatedly, the adjacent pair whose
 * concatenation is a token with the highest score is merged (ties: the
 * leftmost), until no pair forms a token. A final symbol that is not a token
 * falls back to its bytes as <0xXX> tokens. This is llama.cpp's
 * llm_tokenizer_spm_session (whose "resegment" step can only ever take the
 * byte path: every merged symbol is a token by construction).
 *
 * llama.cpp merges over the whole text at once. Here the text is first cut
 * before each "▁" that follows another character, and every word is merged
 * on its own: the result is identical as long as no token contains "▁"
 * after some other character (then no merge can cross such a cut), which
 * tok_spm_prepare() checks for the vocabulary; it only saves memory and
 * keeps the priority queue small, the cost is O(n log n) either way. */
#include "llm/tok_int.h"
#include "base/utf8.h"

#include "base/heap.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>

#define SPACE_MARK "\xE2\x96\x81" /* U+2581, what spaces become */

void tok_spm_prepare(llm_vocab *v)
{
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = tok_strtab_find(&v->str, hex, 6);
        if (id < 0) {
            /* llama.cpp's fallback: the byte itself as a one-byte token. */
            char c = (char)b;
            id = tok_strtab_find(&v->str, &c, 1);
        }
        v->byte_tok[b] = id >= 0 && id < v->n_vocab ? id : -1;
    }
    v->spm_split_ok = 1;
    for (int32_t id = 0; id < v->n_vocab && v->spm_split_ok; id++) {
        const char *s = tok_strtab_str(&v->str, id);
        size_t n = v->str.len[id];
        for (size_t p = 1; p + 3 <= n; p++) {
            if (memcmp(s + p, SPACE_MARK, 3)) continue;
            if (p < 3 || memcmp(s + p - 3, SPACE_MARK, 3)) {
                v->spm_split_ok = 0;
                break;
            }
        }
    }
}

typedef struct spm_sym {
    int32_t prev, next;
    uint32_t start, n; /* bytes in the segment; n = 0 once merged away */
} spm_sym;

typedef struct spm_pair {
    float score;
    int32_t left, right;
    uint32_t size;
} spm_pair;

typedef struct spm_work {
    spm_sym *sym;
    size_t sym_cap;
    rag_heap heap; /* of spm_pair */
} spm_work;

/* Heap order: highest score first, then leftmost. */
static int pair_before(const void *va, const void *vb)
{
    const spm_pair *a = va, *b = vb;
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(spm_work *w, spm_pair p)
{
    rag_heap_push(&w->heap, &p, sizeof p, pair_before);
}

static spm_pair heap_pop(spm_work *w)
{
    spm_pair top;
    rag_heap_pop(&w->heap, &top, sizeof top, pair_before);
    return top;
}

static void try_pair(const llm_vocab *v, spm_work *w, const char *seg, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return;
    const spm_sym *l = &w->sym[left], *r = &w->sym[right];
    int32_t id = tok_strtab_find(&v->str, seg + l->start, l->n + r->n);
    if (id < 0 || id >= v->n_vocab) return;
    spm_pair p = {v->score[id], left, right, l->n + r->n};
    heap_push(w, p);
}

static void encode_segment(const llm_vocab *v, spm_work *w, const char *seg, size_t n,
                           llm_tokens *out)
{
    if (n == 0) return;
    w->sym = rag_xgrow(w->sym, &w->sym_cap, n, sizeof *w->sym);
    spm_sym *sym = w->sym;
    size_t n_sym = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = rag_utf8_decode((const uint8_t *)seg + i, n - i, &cp);
        if (l == 0) l = 1; /* an invalid byte is a symbol of its own */
        sym[n_sym].prev = (int32_t)n_sym - 1;
        sym[n_sym].next = (int32_t)n_sym + 1;
        sym[n_sym].start = (uint32_t)i;
        sym[n_sym].n = (uint32_t)l;
        n_sym++;
        i += l;
    }
    sym[n_sym - 1].next = -1;
    w->heap.n = 0;
    for (size_t i = 1; i < n_sym; i++)
        try_pair(v, w, seg, (int32_t)i - 1, (int32_t)i);
    while (w->heap.n) {
        spm_pair p = heap_pop(w);
        spm_sym *l = &sym[p.left], *r = &sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = p.left;
        try_pair(v, w, seg, l->prev, p.left);
        try_pair(v, w, seg, p.left, l->next);
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        const char *s = seg + sym[i].start;
        int32_t id = tok_strtab_find(&v->str, s, sym[i].n);
        if (id >= 0 && id < v->n_vocab) {
            tok_push(out, id);
            continue;
        }
        for (uint32_t k = 0; k < sym[i].n; k++) {
            int32_t b = v->byte_tok[(uint8_t)s[k]];
            if (b >= 0)
                tok_push(out, b);
            else if (v->sp.unk >= 0)
                tok_push(out, v->sp.unk);
        }
    }
}

int tok_spm_encode(const llm_vocab *v, const char *text, size_t len, int add_prefix,
                   llm_tokens *out, rag_err *err)
{
    (void)err;
    /* The escaped text: optional leading mark, spaces as marks. */
    char *e = rag_xmalloc(3 * len + 4);
    size_t n = 0;
    if (add_prefix) {
        memcpy(e, SPACE_MARK, 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(e + n, SPACE_MARK, 3);
            n += 3;
        } else {
            e[n++] = text[i];
        }
    }
    spm_work w = {0};
    if (!v->spm_split_ok) {
        encode_segment(v, &w, e, n, out);
    } else {
        /* Cut before every mark that does not follow a mark. */
        size_t start = 0;
        for (size_t p = 3; p + 3 <= n; p++) {
            if (e[p] != SPACE_MARK[0] || memcmp(e + p, SPACE_MARK, 3)) continue;
            if (!memcmp(e + p - 3, SPACE_MARK, 3)) continue;
            encode_segment(v, &w, e + start, p - start, out);
            start = p;
        }
        encode_segment(v, &w, e + start, n - start, out);
    }
    rag_free(w.sym);
    rag_heap_free(&w.heap);
    rag_free(e);
    return 0;
}
