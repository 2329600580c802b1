/* llm/tok_ugm.c: SentencePiece Unigram (tokenizer.ggml.model = "t5"), the
 * tokenizer of T5 and XLM-RoBERTa models (llama.cpp's UGM).
 *
 * Design. Encoding has two passes over each plain stretch of text (special
 * and user-defined tokens were cut out before, by the partition in
 * tokenizer.c):
 *
 *  1. Normalisation, as llama.cpp's llm_tokenizer_ugm_session::normalize:
 *     the text is consumed prefix by prefix, each prefix replaced by
 *       - itself, when it starts like a user-defined token (llama.cpp walks
 *         the trie of user-defined texts as far as the input follows it,
 *         whether or not that walk ends on a whole token);
 *       - else the replacement of the longest prefix found in the
 *         precompiled character map (tokenizer.ggml.precompiled_charsmap:
 *         a u32 byte count, that many bytes of XOR-compressed compact double
 *         array (XCDA) entries, then NUL-terminated replacement strings;
 *         each entry packs BASE in bits 10-30 (shifted left by 8 more when
 *         bit 9 is set), LEAF in bit 8, LCHECK in bits 0-7, and bit 31 marks
 *         entries that hold a replacement's offset);
 *       - else one UTF-8 character unchanged, or U+FFFD for one byte that
 *         does not start one (llama.cpp's lenient decoder: overlong forms
 *         and surrogates pass).
 *     Spaces of the result become "▁" (U+2581); with add_space_prefix one
 *     "▁" goes before the first non-space byte; with
 *     remove_extra_whitespaces runs of spaces are dropped and one "▁" goes
 *     before every run of non-spaces instead (so leading and trailing
 *     spaces vanish).
 *  2. Viterbi over the normalised bytes, one UTF-8 character at a time: from
 *     each character start, every token of the trie (normal, user-defined
 *     and unused tokens; a user-defined token scores 0, the others their
 *     score) that matches there offers its end a path score; when no token
 *     covers exactly the one character, the unknown token covers it with the
 *     score min(normal scores) - 10. Sums are doubles, as in llama.cpp, and
 *     a challenger must be strictly better to win (the first found keeps a
 *     tie). The best path is read back from the end; runs of unknown tokens
 *     become one.
 * There is no byte fallback (llama.cpp's UGM has none, byte pieces or not).
 * A vocabulary without an unknown token drops what only it could cover.
 *
 * Where llama.cpp would throw on a corrupt map (an entry index or a
 * replacement offset out of bounds), matching stops there instead. The map
 * is checked at load: its first word must leave room for replacements.
 *
 * Tries are arrays of nodes whose children lie together, sorted by byte,
 * built breadth first from the sorted token texts. */
#include "llm/tok_int.h"

#include "base/mem.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define SPACE_MARK "\xE2\x96\x81"
#define CHARSMAP_KEY "tokenizer.ggml.precompiled_charsmap"

/* ---- tries ---------------------------------------------------------------------- */

typedef struct ent {
    const uint8_t *s;
    uint32_t n;
    int32_t id;
} ent;

static int cmp_ent(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    uint32_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, m);
    if (c) return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* Builds t from the n (distinct) texts of e, which it sorts. */
typedef struct span {
    size_t lo, hi; /* the entries below the node, which share its depth bytes */
    uint32_t depth;
} span;

static void trie_build(tok_ugm_trie *t, ent *e, size_t n)
{
    qsort(e, n, sizeof *e, cmp_ent);
    size_t cap = 0, scap = 0;
    t->node = rag_xgrow(NULL, &cap, 1, sizeof *t->node);
    span *sp = rag_xgrow(NULL, &scap, 1, sizeof *sp);
    t->n = 1;
    t->node[0] = (tok_ugm_node){.value = -1};
    sp[0] = (span){0, n, 0};
    for (size_t i = 0; i < t->n; i++) {
        size_t a = sp[i].lo, b = sp[i].hi;
        uint32_t d = sp[i].depth;
        if (a < b && e[a].n == d) t->node[i].value = e[a++].id;
        t->node[i].child = (uint32_t)t->n;
        while (a < b) {
            uint8_t c = e[a].s[d];
            size_t k = a + 1;
            while (k < b && e[k].s[d] == c)
                k++;
            if (t->n == cap) t->node = rag_xgrow(t->node, &cap, t->n + 1, sizeof *t->node);
            if (t->n == scap) sp = rag_xgrow(sp, &scap, t->n + 1, sizeof *sp);
            t->node[t->n] = (tok_ugm_node){.value = -1, .byte = c};
            sp[t->n] = (span){a, k, d + 1};
            t->n++;
            t->node[i].n_child++;
            a = k;
        }
    }
    rag_free(sp);
}

/* The child of node for byte c, or -1. */
static int32_t trie_next(const tok_ugm_trie *t, int32_t node, uint8_t c)
{
    const tok_ugm_node *nd = &t->node[node];
    uint32_t a = nd->child, b = a + nd->n_child;
    while (a < b) {
        uint32_t m = a + (b - a) / 2;
        uint8_t x = t->node[m].byte;
        if (x == c) return (int32_t)m;
        if (x < c)
            a = m + 1;
        else
            b = m;
    }
    return -1;
}

/* ---- loading --------------------------------------------------------------------- */

int tok_ugm_load(llm_vocab *v, const llm_gguf *g, rag_err *err)
{
    const char *path = llm_gguf_path(g);
    llm_gguf_type et;
    uint64_t m;
    int rc = llm_gguf_get_arr(g, CHARSMAP_KEY, &et, &m, err);
    if (rc == RAG_ERR_NOTFOUND) {
        rag_err_clear(err);
    } else if (rc) {
        return rc;
    } else if (m > 0) {
        if (et != LLM_GGUF_U8 && et != LLM_GGUF_I8)
            return rag_err_set(err, RAG_ERR_FORMAT, "%s: %s holds %s, expected u8", path,
                               CHARSMAP_KEY, llm_gguf_type_name(et));
        const uint8_t *p = llm_gguf_arr_data(g, llm_gguf_find(g, CHARSMAP_KEY));
        uint64_t blob = m >= 4 ? (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                                     (uint64_t)p[3] << 24
                               : 0;
        if (m < 4 || blob + 4 >= m)
            return rag_err_set(err, RAG_ERR_FORMAT,
                               "%s: %s: the character map (%llu bytes) is cut short", path,
                               CHARSMAP_KEY, (unsigned long long)m);
        v->ugm_xcda_n = (size_t)(blob / 4);
        v->ugm_xcda = rag_xcalloc(v->ugm_xcda_n ? v->ugm_xcda_n : 1, sizeof *v->ugm_xcda);
        for (size_t i = 0; i < v->ugm_xcda_n; i++) {
            const uint8_t *q = p + 4 + 4 * i;
            v->ugm_xcda[i] =
                (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        }
        v->ugm_repl_n = (size_t)(m - 4 - blob);
        v->ugm_repl = rag_xmalloc(v->ugm_repl_n + 1);
        memcpy(v->ugm_repl, p + 4 + blob, v->ugm_repl_n);
        v->ugm_repl[v->ugm_repl_n] = 0;
    }

    float min_score = FLT_MAX;
    size_t n_tok = 0, n_user = 0;
    for (int32_t id = 0; id < v->n_vocab; id++) {
        if (v->attr[id] & TOK_NORMAL && v->score[id] < min_score) min_score = v->score[id];
        if (v->attr[id] & (TOK_NORMAL | TOK_USER_DEFINED | TOK_UNUSED)) n_tok++;
        if (v->attr[id] & TOK_USER_DEFINED) n_user++;
    }
    v->ugm_unk_score = min_score - 10.0f;
    ent *tok = rag_xcalloc(n_tok ? n_tok : 1, sizeof *tok);
    ent *user = rag_xcalloc(n_user ? n_user : 1, sizeof *user);
    n_tok = n_user = 0;
    for (int32_t id = 0; id < v->n_vocab; id++) {
        ent e = {(const uint8_t *)tok_strtab_str(&v->str, id), v->str.len[id], id};
        if (v->attr[id] & (TOK_NORMAL | TOK_USER_DEFINED | TOK_UNUSED)) tok[n_tok++] = e;
        if (v->attr[id] & TOK_USER_DEFINED) user[n_user++] = e;
    }
    trie_build(&v->ugm_tokens, tok, n_tok);
    trie_build(&v->ugm_user, user, n_user);
    rag_free(tok);
    rag_free(user);
    return 0;
}

void tok_ugm_free(llm_vocab *v)
{
    rag_free(v->ugm_xcda);
    rag_free(v->ugm_repl);
    rag_free(v->ugm_tokens.node);
    rag_free(v->ugm_user.node);
}

/* ---- normalisation -------------------------------------------------------------- */

/* llama.cpp's unicode_cpt_from_utf8: the length of the character at s (n
 * bytes left), 0 when it throws. Lead and continuation bits only. */
static size_t lenient_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t need;
    if (!(c & 0x80)) return 1;
    if (!(c & 0x40)) return 0;
    if (!(c & 0x20))
        need = 2;
    else if (!(c & 0x10))
        need = 3;
    else if (!(c & 0x08))
        need = 4;
    else
        return 0;
    if (n < need) return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return need;
}

/* XCDA entry fields. */
static uint32_t xcda_base(uint32_t e)
{
    return (e >> 10) << ((e & (1u << 9)) >> 6);
}
static uint32_t xcda_lcheck(uint32_t e)
{
    return e & ((1u << 31) | 0xFFu);
}
static int xcda_leaf(uint32_t e)
{
    return (e >> 8) & 1;
}
static uint32_t xcda_value(uint32_t e)
{
    return e & ((1u << 31) - 1);
}

/* The replacement of the prefix of s[0..n) (n > 0): *out, *out_len, and
 * the bytes consumed (returned, >= 1). */
static size_t normalize_prefix(const llm_vocab *v, const uint8_t *s, size_t n, const char **out,
                               size_t *out_len)
{
    /* As far as the input follows some user-defined token's text. */
    if (v->ugm_user.n > 1) {
        int32_t node = 0;
        size_t k = 0;
        while (k < n && (node = trie_next(&v->ugm_user, node, s[k])) >= 0)
            k++;
        if (k > 0) {
            *out = (const char *)s;
            *out_len = k;
            return k;
        }
    }
    if (v->ugm_xcda_n > 0) {
        const uint32_t *a = v->ugm_xcda;
        size_t na = v->ugm_xcda_n, best_len = 0;
        uint32_t best_off = 0, node = xcda_base(a[0]);
        for (size_t p = 0; p < n; p++) {
            uint8_t c = s[p];
            if (c == 0) break;
            node ^= c;
            if (node >= na || xcda_lcheck(a[node]) != c) break;
            int leaf = xcda_leaf(a[node]);
            node ^= xcda_base(a[node]);
            if (leaf) {
                if (node >= na) break;
                best_len = p + 1;
                best_off = xcda_value(a[node]);
            }
        }
        if (best_len > 0 && best_off < v->ugm_repl_n) {
            const char *r = v->ugm_repl + best_off;
            *out = r;
            *out_len = strlen(r); /* ugm_repl ends with a NUL of ours */
            return best_len;
        }
    }
    size_t l = lenient_len(s, n);
    if (l) {
        *out = (const char *)s;
        *out_len = l;
        return l;
    }
    *out = "\xEF\xBF\xBD";
    *out_len = 3;
    return 1;
}

typedef struct nbuf {
    char *p;
    size_t n, cap;
} nbuf;

static void nbuf_put(nbuf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) b->p = rag_xgrow(b->p, &b->cap, b->n + n, 1);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void normalize(const llm_vocab *v, const uint8_t *s, size_t len, nbuf *out)
{
    int prepend = v->add_space_prefix, merge = v->ugm_remove_extra_ws;
    int prepended = 0, in_word = 0;
    for (size_t off = 0; off < len;) {
        const char *r;
        size_t rn;
        off += normalize_prefix(v, s + off, len - off, &r, &rn);
        for (size_t i = 0; i < rn; i++) {
            if (r[i] != ' ') {
                if (!in_word) {
                    in_word = 1;
                    if ((prepend && !prepended) || merge) {
                        nbuf_put(out, SPACE_MARK, 3);
                        prepended = 1;
                    }
                }
                nbuf_put(out, r + i, 1);
            } else {
                in_word = 0;
                if (!merge) nbuf_put(out, SPACE_MARK, 3);
            }
        }
    }
}

/* ---- Viterbi -------------------------------------------------------------------- */

typedef struct best {
    int32_t id;
    size_t from;
    double score;
} best;

/* llama.cpp's unicode_len_utf8: the length a lead byte announces. */
static size_t lead_len(uint8_t c)
{
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

int tok_ugm_encode(const llm_vocab *v, const char *text, size_t len, llm_tokens *out, rag_err *err)
{
    (void)err;
    nbuf nb = {0};
    normalize(v, (const uint8_t *)text, len, &nb);
    size_t n = nb.n;
    if (n == 0) {
        rag_free(nb.p);
        return 0;
    }
    const uint8_t *s = (const uint8_t *)nb.p;
    const tok_ugm_trie *t = &v->ugm_tokens;
    int32_t unk = v->sp.unk;
    best *r = rag_xcalloc(n + 1, sizeof *r);
    for (size_t i = 1; i <= n; i++)
        r[i] = (best){unk, 0, -DBL_MAX};
    r[0] = (best){unk, 0, 0.0};
    for (size_t off = 0; off < n;) {
        size_t nu = lead_len(s[off]);
        if (nu > n - off) nu = n - off;
        double cur = r[off].score;
        int single = 0;
        int32_t node = 0;
        for (size_t p = off; p < n;) {
            node = trie_next(t, node, s[p++]);
            if (node < 0) break;
            int32_t id = t->node[node].value;
            if (id < 0) continue;
            if (p - off == nu) single = 1;
            double sc = cur + ((v->attr[id] & TOK_USER_DEFINED) ? 0.0 : (double)v->score[id]);
            if (sc > r[p].score) r[p] = (best){id, off, sc};
        }
        if (!single) {
            double sc = cur + (double)v->ugm_unk_score;
            if (sc > r[off + nu].score) r[off + nu] = (best){unk, off, sc};
        }
        off += nu;
    }
    /* Back from the end; consecutive unknown tokens become one. */
    size_t n0 = out->n;
    int prev_unk = 0;
    for (size_t pos = n;;) {
        const best *b = &r[pos];
        int is_unk = b->id == unk;
        if (!(prev_unk && is_unk) && b->id >= 0) tok_push(out, b->id);
        if (b->from == 0) break;
        prev_unk = is_unk;
        pos = b->from;
    }
    for (size_t i = n0, j = out->n; i + 1 < j; i++, j--) {
        int32_t x = out->v[i];
        out->v[i] = out->v[j - 1];
        out->v[j - 1] = x;
    }
    rag_free(r);
    rag_free(nb.p);
    return 0;
}
