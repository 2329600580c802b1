/* base/utf8.c: UTF-8 helpers over utf8proc. */
#include "base/utf8.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

size_t rag_utf8_decode(const uint8_t *s, size_t n, int32_t *cp)
{
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    int32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

size_t rag_utf8_encode(int32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t rag_utf8_repair(const uint8_t *s, size_t n, rag_buf *out, size_t *first_bad)
{
    size_t bad = 0, i = 0, run = 0;
    if (first_bad) *first_bad = SIZE_MAX;
    rag_buf_reserve(out, n);
    while (i < n) {
        /* Copy the longest ASCII/valid run in one append. */
        int32_t cp;
        size_t l = s[i] < 0x80 ? 1 : rag_utf8_decode(s + i, n - i, &cp);
        if (l) {
            i += l;
            run += l;
            continue;
        }
        rag_buf_append(out, s + i - run, run);
        run = 0;
        if (first_bad && bad == 0) *first_bad = i;
        bad++;
        rag_buf_append(out, "\xEF\xBF\xBD", 3);
        /* Skip the maximal invalid subpart: one lead byte plus any continuation bytes. */
        i++;
        while (i < n && (s[i] & 0xC0) == 0x80)
            i++;
    }
    rag_buf_append(out, s + i - run, run);
    return bad;
}

static int map_append(const char *s, size_t n, int options, rag_buf *out)
{
    if (n == 0) return 0;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t len =
        utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, options);
    if (len < 0) return -1;
    rag_buf_append(out, dst, (size_t)len);
    free(dst); /* allocated by utf8proc with malloc */
    return 0;
}

int rag_utf8_nfc(const char *s, size_t n, rag_buf *out)
{
    /* ASCII is already NFC: skip the library call for the common case. */
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0x80)
        i++;
    if (i == n) {
        rag_buf_append(out, s, n);
        return 0;
    }
    return map_append(s, n, UTF8PROC_STABLE | UTF8PROC_COMPOSE, out);
}

int rag_utf8_fold(const char *s, size_t n, rag_buf *out)
{
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0x80)
        i++;
    if (i == n) {
        rag_buf_reserve(out, n);
        for (i = 0; i < n; i++) {
            char c = s[i];
            out->data[out->len++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        out->data[out->len] = 0;
        return 0;
    }
    return map_append(
        s, n, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK, out);
}

int rag_cp_is_word(int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

int rag_cp_is_space(int32_t cp)
{
    if (cp < 0x80) return cp == ' ' || (cp >= 9 && cp <= 13);
    if (cp == 0x85) return 1;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
        return 1;
    default:
        return 0;
    }
}

int rag_cp_is_control(int32_t cp)
{
    if (cp == '\t' || cp == '\n') return 0;
    if (cp < 0x20 || cp == 0x7F) return 1;
    if (cp < 0x80) return 0;
    utf8proc_category_t c = utf8proc_category(cp);
    /* Cf includes the soft hyphen, zero-width space/joiners and the BOM. ZWJ
     * (U+200D) is kept: it is part of emoji sequences and some scripts. */
    if (cp == 0x200D) return 0;
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF;
}

int rag_cp_is_cjk(int32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x11FF)       /* Hangul Jamo */
           || (cp >= 0x2E80 && cp <= 0x2FDF)    /* CJK radicals */
           || (cp >= 0x3040 && cp <= 0x30FF)    /* Hiragana, Katakana */
           || (cp >= 0x3100 && cp <= 0x31FF)    /* Bopomofo, Hangul compat jamo, Katakana ext */
           || (cp >= 0x3400 && cp <= 0x4DBF)    /* CJK ext A */
           || (cp >= 0x4E00 && cp <= 0x9FFF)    /* CJK unified */
           || (cp >= 0xA960 && cp <= 0xA97F)    /* Hangul Jamo ext A */
           || (cp >= 0xAC00 && cp <= 0xD7FF)    /* Hangul syllables, Jamo ext B */
           || (cp >= 0xF900 && cp <= 0xFAFF)    /* CJK compatibility */
           || (cp >= 0xFF66 && cp <= 0xFFDC)    /* halfwidth Katakana, Hangul */
           || (cp >= 0x20000 && cp <= 0x3FFFF); /* CJK ext B.. */
}
