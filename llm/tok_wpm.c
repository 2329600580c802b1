/* llm/tok_wpm.c: WordPiece (tokenizer.ggml.model = "bert").
 *
 * BERT's normaliser first (llama.cpp's llm_tokenizer_wpm_session::preprocess):
 *   - with strip_accents, each character is replaced by the first character
 *     of its canonical decomposition (é -> e) and combining marks are
 *     dropped;
 *   - whitespace separates words; NUL, U+FFFD and other control/format/
 *     unassigned characters (category C*) vanish;
 *   - with lowercase, characters are lowercased;
 *   - punctuation (P*), ASCII symbols ($+<=>^`|~) and CJK ideographs are
 *     words of their own.
 * Each word is then covered greedily by the longest vocabulary entry at each
 * position. llama.cpp's converter stores word-initial pieces with a "▁"
 * prefix and continuation pieces bare (what BERT writes as "##ing"), so the
 * lookup runs over "▁" + word. A word that cannot be covered entirely
 * becomes [UNK].
 *
 * Both options default to true (the uncased BERT vocabularies) and come from
 * tokenizer.ggml.normalizer.lowercase / .strip_accents. An invalid UTF-8
 * byte is a word of its own, which no entry covers: [UNK]. Character
 * classes come from utf8proc. */
#include "llm/tok_int.h"
#include "base/utf8.h"

#include "base/mem.h"

#include <string.h>
#include <utf8proc.h>

#define SPACE_MARK "\xE2\x96\x81"

/* Unicode White_Space (what llama.cpp's tables call whitespace). */
static int is_space(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* The ranges BERT treats as CJK ideographs (as llama.cpp and HF list them). */
static int is_chinese(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* First character of the canonical decomposition. */
static int32_t nfd_first(int32_t c)
{
    if (c < 0xC0) return c;
    utf8proc_int32_t d[32];
    int bound = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(c, d, 32, UTF8PROC_DECOMPOSE, &bound);
    return n >= 1 && n <= 32 ? d[0] : c;
}

static size_t put_utf8(int32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Covers "▁" + word (w[0..n), the mark included) longest match first. */
static void encode_word(const llm_vocab *v, const char *w, size_t n, llm_tokens *out)
{
    if (n <= 3) return; /* the mark alone: an empty word */
    size_t start = out->n;
    size_t maxl = v->max_token_len;
    for (size_t i = 0; i < n;) {
        size_t j = i + maxl + 1 < n ? i + maxl + 1 : n;
        int32_t id = -1;
        for (; j > i; j--) {
            id = tok_strtab_find(&v->str, w + i, j - i);
            if (id >= 0 && id < v->n_vocab) break;
            id = -1;
        }
        if (id < 0) {
            out->n = start; /* the word cannot be covered: all of it is [UNK] */
            break;
        }
        tok_push(out, id);
        i = j;
    }
    if (out->n == start && v->sp.unk >= 0) tok_push(out, v->sp.unk);
}

int tok_wpm_encode(const llm_vocab *v, const char *text, size_t len, llm_tokens *out, rag_err *err)
{
    (void)err;
    const uint8_t *s = (const uint8_t *)text;
    /* The current word, "▁"-prefixed; at most 4 bytes per input byte. */
    char *w = rag_xmalloc(4 * len + 8);
    size_t n = 3;
    memcpy(w, SPACE_MARK, 3);
    for (size_t i = 0; i < len;) {
        int32_t c;
        size_t l = s[i] < 0x80 ? (c = s[i], 1) : rag_utf8_decode(s + i, len - i, &c);
        if (l == 0) {
            encode_word(v, w, n, out);
            n = 3;
            w[n++] = (char)s[i++];
            encode_word(v, w, n, out);
            n = 3;
            continue;
        }
        i += l;
        if (v->wpm_strip_accents) c = nfd_first(c);
        if (is_space(c)) {
            encode_word(v, w, n, out);
            n = 3;
            continue;
        }
        utf8proc_category_t cat = utf8proc_category(c);
        if (c == 0 || c == 0xFFFD || cat == UTF8PROC_CATEGORY_CN || cat >= UTF8PROC_CATEGORY_CC)
            continue;
        if (v->wpm_strip_accents && cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME)
            continue;
        int32_t lc = v->wpm_lowercase ? utf8proc_tolower(c) : c;
        int punct = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
        int symbol = cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO;
        if (punct || (c < 0x7F && symbol) || is_chinese(c)) {
            encode_word(v, w, n, out);
            n = 3;
            n += put_utf8(lc, w + n);
            encode_word(v, w, n, out);
            n = 3;
            continue;
        }
        n += put_utf8(lc, w + n);
    }
    encode_word(v, w, n, out);
    rag_free(w);
    return 0;
}
