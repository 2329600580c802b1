/* base/sentence.c: a rule-based sentence splitter (English-centred, with
 * the full-width CJK terminators), with ICU for the other scripts. The
 * rules are in base/sentence.h.
 *
 * Design note. ICU's sentence break iterator (UBRK_SENTENCE) alone is worse
 * than these rules where the rules apply: it ends sentences after titles
 * and initials ("Dr. | Smith", "J. | Smith"), at every line break (UAX #29
 * rule SB4, where these rules leave line breaks to rag_sentence_len), and it
 * does not end Thai sentences, which are separated by a space and carry no
 * mark. So the rules stay, and ICU decides only what they do not know: a
 * sentence-terminal mark of another script (Unicode's Sentence_Terminal:
 * the Devanagari danda ।, Arabic ؟ and ۔, Burmese ။, Khmer ។, Ethiopic ።,
 * Armenian, Tibetan ...) ends a sentence where ICU's iterator puts a
 * boundary after it. The iterator is cloned from one opened once, only
 * when such a mark is met, and reads the UTF-8 in place. Thai and Lao: a
 * space between two letters of these scripts ends a sentence (it is how
 * their writers separate sentences and clauses). */
#include "base/sentence.h"
#include "base/utf8.h"

#include <pthread.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>

static UBreakIterator *sentence_proto;
static pthread_once_t sentence_once = PTHREAD_ONCE_INIT;

static void sentence_open(void)
{
    UErrorCode st = U_ZERO_ERROR;
    sentence_proto = ubrk_open(UBRK_SENTENCE, "", NULL, 0, &st);
    if (U_FAILURE(st)) sentence_proto = NULL;
}

/* Does ICU end the sentence of s[pos, end) that holds the terminator s[t, k)
 * (k: after it and its closing quotes) there, with only whitespace between
 * k and its boundary? On any ICU failure: yes (the mark is a terminal one). */
static int icu_ends_at(const char *s, size_t pos, size_t end, size_t t, size_t k, size_t m)
{
    pthread_once(&sentence_once, sentence_open);
    if (!sentence_proto) return 1;
    UErrorCode st = U_ZERO_ERROR;
    UBreakIterator *bi = ubrk_clone(sentence_proto, &st);
    if (U_FAILURE(st)) return 1;
    UText *ut = utext_openUTF8(NULL, s + pos, (int64_t)(end - pos), &st);
    if (U_SUCCESS(st)) ubrk_setUText(bi, ut, &st);
    int32_t b = U_SUCCESS(st) ? ubrk_following(bi, (int32_t)(t - pos)) : UBRK_DONE;
    utext_close(ut);
    ubrk_close(bi);
    if (U_FAILURE(st)) return 1;
    return b != UBRK_DONE && (size_t)b + pos >= k && (size_t)b + pos <= m;
}

/* Thai and Lao letters (U+0E00..U+0EFF: UTF-8 E0 B8..BB xx). */
static inline int thai_lao_at(const char *s, size_t i, size_t end)
{
    const unsigned char *u = (const unsigned char *)s + i;
    return end - i >= 3 && u[0] == 0xE0 && u[1] >= 0xB8 && u[1] <= 0xBB;
}

static inline int ascii_alpha(unsigned c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* Length of the whitespace character at s[i] (i < end), 0 when it is not. */
static size_t space_at(const char *s, size_t i, size_t end)
{
    unsigned c = (unsigned char)s[i];
    if (c < 0x80) return c == ' ' || (c >= '\t' && c <= '\r');
    int32_t cp;
    size_t l = rag_utf8_decode((const uint8_t *)s + i, end - i, &cp);
    return l && rag_cp_is_space(cp) ? l : 0;
}

static size_t skip_space(const char *s, size_t i, size_t end)
{
    size_t l;
    while (i < end && (l = space_at(s, i, end)))
        i += l;
    return i;
}

/* A sentence-ending mark at s[i]: its length, or 0. *cjk is set for the
 * full-width marks, which end a sentence without a following space. */
static size_t terminator_at(const char *s, size_t i, size_t end, int *cjk, int *strong)
{
    const unsigned char *u = (const unsigned char *)s + i;
    *cjk = 0;
    *strong = 0;
    if (u[0] == '.') return 1;
    if (u[0] == '!' || u[0] == '?') {
        *strong = 1;
        return 1;
    }
    if (u[0] < 0xE2 || end - i < 3) return 0;
    if (u[0] == 0xE2 && u[1] == 0x80 && u[2] == 0xA6) return 3; /* … */
    *cjk = *strong = 1;
    if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x82) return 3;                   /* 。 */
    if (u[0] == 0xEF && u[1] == 0xBC && (u[2] == 0x81 || u[2] == 0x9F)) return 3; /* ！ ？ */
    if (u[0] == 0xEF && u[1] == 0xBD && u[2] == 0xA1) return 3;                   /* ｡ */
    *cjk = *strong = 0;
    return 0;
}

/* Closing quotes and brackets that belong to the sentence before them:
 * » ’ ” › 〉 》 」 』 】 〕 ） ］ ｣ (the ASCII ones are tested directly). */
static const char *const CLOSERS[] = {
    "\xC2\xBB",     "\xE2\x80\x99", "\xE2\x80\x9D", "\xE2\x80\xBA", "\xE3\x80\x89",
    "\xE3\x80\x8B", "\xE3\x80\x8D", "\xE3\x80\x8F", "\xE3\x80\x91", "\xE3\x80\x95",
    "\xEF\xBC\x89", "\xEF\xBC\xBD", "\xEF\xBD\xA3",
};

/* Length of the closing quote or bracket at s[i], or 0. */
static size_t closer_at(const char *s, size_t i, size_t end)
{
    unsigned c = (unsigned char)s[i];
    if (c < 0x80) return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}';
    for (size_t k = 0; k < sizeof CLOSERS / sizeof *CLOSERS; k++) {
        size_t l = strlen(CLOSERS[k]);
        if (end - i >= l && !memcmp(s + i, CLOSERS[k], l)) return l;
    }
    return 0;
}

/* Abbreviations after which a period never ends a sentence: titles before a
 * name ("Dr. Smith") and the Latin ones that introduce something. */
static const char *const ABBR_ALWAYS[] = {
    "mr",  "mrs", "ms", "dr",  "prof", "sr",   "jr", "st",  "vs",
    "e.g", "i.e", "cf", "viz", "fig",  "figs", "eq", "eqs",
};
/* Abbreviations that end a sentence only when no lowercase word or number
 * follows ("etc. The next" ends, "etc. and" does not). */
static const char *const ABBR_LOWER[] = {
    "etc",  "al",   "approx", "ca",  "inc",  "ltd", "co",   "corp", "no",  "nos", "vol",
    "vols", "pp",   "p",      "ed",  "eds",  "ch",  "sec",  "dept", "est", "min", "max",
    "resp", "incl", "excl",   "esp", "misc", "ref", "refs", "jan",  "feb", "mar", "apr",
    "jun",  "jul",  "aug",    "sep", "sept", "oct", "nov",  "dec",
};

enum { ABBR_NONE, ABBR_NEVER_ENDS, ABBR_ENDS_UNLESS_LOWER };

/* Classifies the word that ends at the period s[dot] (lo: sentence start). */
static int abbrev_class(const char *s, size_t lo, size_t dot)
{
    size_t j = dot;
    while (j > lo && dot - j < 12 && (ascii_alpha((unsigned char)s[j - 1]) || s[j - 1] == '.'))
        j--;
    if (j == dot || dot - j >= 12) return ABBR_NONE;
    if (j > lo) { /* part of a longer word ("café.", "x2.") is no abbreviation */
        unsigned c = (unsigned char)s[j - 1];
        if (c >= 0x80 || (c >= '0' && c <= '9') || c == '_') return ABBR_NONE;
    }
    size_t n = dot - j;
    if (n == 1 && s[j] >= 'A' && s[j] <= 'Z' && s[j] != 'I') return ABBR_NEVER_ENDS; /* initial */
    char w[12];
    int dotted = 0;
    for (size_t k = 0; k < n; k++) {
        w[k] = (char)(s[j + k] | (s[j + k] == '.' ? 0 : 0x20));
        dotted |= s[j + k] == '.';
    }
    w[n] = 0;
    /* (first letters compared first: this runs at every period) */
    for (size_t k = 0; k < sizeof ABBR_ALWAYS / sizeof *ABBR_ALWAYS; k++)
        if (ABBR_ALWAYS[k][0] == w[0] && !strcmp(w, ABBR_ALWAYS[k])) return ABBR_NEVER_ENDS;
    for (size_t k = 0; k < sizeof ABBR_LOWER / sizeof *ABBR_LOWER; k++)
        if (ABBR_LOWER[k][0] == w[0] && !strcmp(w, ABBR_LOWER[k])) return ABBR_ENDS_UNLESS_LOWER;
    /* "U.S.", "a.m.", "Ph.D." */
    return dotted && w[0] != '.' ? ABBR_ENDS_UNLESS_LOWER : ABBR_NONE;
}

size_t rag_sentence_end(const char *s, size_t pos, size_t end)
{
    size_t i = pos;
    while (i < end) {
        unsigned c = (unsigned char)s[i];
        if (c < 0x80 && c != '.' && c != '!' && c != '?') {
            /* Thai, Lao: a space between letters ends a sentence */
            if (c == ' ' && i >= pos + 3 && (unsigned char)s[i - 3] == 0xE0 &&
                thai_lao_at(s, i - 3, end)) {
                size_t m = skip_space(s, i, end);
                if (m < end && thai_lao_at(s, m, end)) return i;
            }
            i++;
            continue;
        }
        int cjk, strong;
        size_t tl = terminator_at(s, i, end, &cjk, &strong);
        if (!tl && c >= 0xC0) { /* another script's terminal mark: ask ICU */
            int32_t cp;
            size_t l = rag_utf8_decode((const uint8_t *)s + i, end - i, &cp);
            if (l && cp != 0x2026 && u_hasBinaryProperty(cp, UCHAR_S_TERM)) {
                size_t t = i, k = i + l, cl;
                while (k < end && (cl = closer_at(s, k, end)))
                    k += cl;
                if (k >= end) return end;
                if (icu_ends_at(s, pos, end, t, k, skip_space(s, k, end))) return k;
                i = k;
                continue;
            }
        }
        if (!tl) { /* continuation bytes never look like a terminator's lead byte */
            i++;
            continue;
        }
        size_t t0 = i;
        int last_cjk = 0, any_strong = 0, n_term = 0;
        while (i < end && (tl = terminator_at(s, i, end, &cjk, &strong))) {
            last_cjk = cjk;
            any_strong |= strong;
            n_term++;
            i += tl;
        }
        size_t k = i, l;
        while (k < end && (l = closer_at(s, k, end)))
            k += l;
        if (k >= end) return end;
        if (last_cjk) return k;
        if (!space_at(s, k, end)) {
            i = k;
            continue;
        }
        size_t m = skip_space(s, k, end);
        unsigned nx = m < end ? (unsigned char)s[m] : 0;
        int lower = nx >= 'a' && nx <= 'z', digit = nx >= '0' && nx <= '9';
        if (!any_strong) {
            if (n_term == 1 && s[t0] == '.') {
                int a = abbrev_class(s, pos, t0);
                if (a == ABBR_NEVER_ENDS || (a == ABBR_ENDS_UNLESS_LOWER && (lower || digit))) {
                    i = k;
                    continue;
                }
            } else if (lower) { /* "wait... what" */
                i = k;
                continue;
            }
        }
        return k;
    }
    return end;
}

/* Does the line starting at s look like a list item ("- x", "* x", "1. x",
 * "• x") or a table row ("| a | b |")? */
static int starts_list_item(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] == '|') return 1;
    if (i + 1 < n && (s[i] == '-' || s[i] == '*' || s[i] == '+') && s[i + 1] == ' ') return 1;
    if (i + 3 < n && !memcmp(s + i, "\xE2\x80\xA2", 3)) return 1; /* • */
    size_t d = i;
    while (d < n && s[d] >= '0' && s[d] <= '9')
        d++;
    return d > i && d + 1 < n && (s[d] == '.' || s[d] == ')') && s[d + 1] == ' ';
}

/* A row of a table as the extractors write one: cells joined by " | " on
 * one line. */
static int is_table_row(const char *s, size_t n)
{
    for (size_t i = 0; i + 2 < n && s[i] != '\n'; i++)
        if (s[i] == ' ' && s[i + 1] == '|' && s[i + 2] == ' ') return 1;
    return 0;
}

size_t rag_sentence_len(const char *s, size_t n)
{
    if (n == 0) return 0;
    size_t e = rag_sentence_end(s, 0, n);
    /* a line break before that end may close the unit first */
    for (size_t i = 0; i < e; i++) {
        if (s[i] != '\n') continue;
        size_t b = i;
        while (b > 0 && s[b - 1] == ' ')
            b--;
        size_t line = i; /* the start of the line the break ends */
        while (line > 0 && s[line - 1] != '\n')
            line--;
        if ((i + 1 < n && s[i + 1] == '\n') || (b > 0 && s[b - 1] == ':') ||
            starts_list_item(s + i + 1, n - i - 1) || is_table_row(s + i + 1, n - i - 1) ||
            is_table_row(s + line, i - line))
            return i ? i : 1;
    }
    return e;
}
