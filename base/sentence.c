/* base/sentence.c: a rule-based sentence splitter (English-centred, with the
 * CJK full-width terminators). Rules are in base/sentence.h. */
#include "base/sentence.h"
#include "base/utf8.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Words after which a period rarely ends a sentence. Titles (and single
 * capital initials) stay with the name that follows even when it is
 * capitalised; the others end a sentence before a capital letter. */
static const char *const titles[] = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "messrs",
                                     NULL};
static const char *const abbreviations[] = {
    "e.g", "i.e", "etc", "vs", "cf", "al", "approx", "dept", "fig", "figs", "no", "nos", "p",
    "pp", "vol", "ch", "sec", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "ca", "min", "max", "resp", NULL};

static int in_list(const char *const *list, const char *w, size_t len)
{
    for (const char *const *a = list; *a; a++)
        if (strlen(*a) == len && !strncasecmp(*a, w, len)) return 1;
    return 0;
}

/* 2: a title or an initial before the period at s[dot]; 1: another
 * abbreviation; 0: an ordinary word. */
static int abbreviation_kind(const char *s, size_t dot)
{
    size_t b = dot;
    while (b > 0 && (isalpha((unsigned char)s[b - 1]) || s[b - 1] == '.')) b--;
    size_t len = dot - b;
    if (len == 0) return 0;
    if (len == 1 && isupper((unsigned char)s[b])) return 2;
    if (in_list(titles, s + b, len)) return 2;
    return in_list(abbreviations, s + b, len);
}

static int is_closer(unsigned char c)
{
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}';
}

/* Does the line starting at s look like a list item ("- x", "* x", "1. x",
 * "• x") or a table row ("| a | b |")? */
static int starts_list_item(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i < n && s[i] == '|') return 1;
    if (i + 1 < n && (s[i] == '-' || s[i] == '*' || s[i] == '+') && s[i + 1] == ' ') return 1;
    if (i + 3 < n && !memcmp(s + i, "\xE2\x80\xA2", 3)) return 1; /* • */
    size_t d = i;
    while (d < n && isdigit((unsigned char)s[d])) d++;
    return d > i && d + 1 < n && (s[d] == '.' || s[d] == ')') && s[d + 1] == ' ';
}

size_t rag_sentence_len(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        int32_t cp;
        size_t l = rag_utf8_decode(p + i, n - i, &cp);
        if (!l) {
            i++;
            continue;
        }
        if (cp == '\n') {
            if (i + 1 < n && s[i + 1] == '\n') return i ? i : 1; /* blank line */
            size_t e = i;
            while (e > 0 && s[e - 1] == ' ') e--;
            if ((e > 0 && s[e - 1] == ':') || starts_list_item(s + i + 1, n - i - 1))
                return i ? i : 1;
            i++;
            continue;
        }
        if (cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F) { /* 。！？ */
            i += l;
            while (i < n && is_closer(p[i])) i++;
            return i;
        }
        if (cp == '.' || cp == '!' || cp == '?' || cp == 0x2026) {
            size_t end = i + l;
            while (end < n && (p[end] == '.' || p[end] == '!' || p[end] == '?')) end++;
            while (end < n && is_closer(p[end])) end++;
            if (end + 3 <= n && (!memcmp(s + end, "\xE2\x80\x9D", 3) || /* ” ’ » */
                                 !memcmp(s + end, "\xE2\x80\x99", 3)))
                end += 3;
            else if (end + 2 <= n && !memcmp(s + end, "\xC2\xBB", 2))
                end += 2;
            if (end >= n) return n;
            if (p[end] == ' ' || p[end] == '\n' || p[end] == '\t') {
                int kind = cp == '.' ? abbreviation_kind(s, i) : 0;
                if (kind) {
                    size_t k = end;
                    while (k < n && p[k] == ' ') k++;
                    if (k < n && (kind == 2 || islower(p[k]) || isdigit(p[k]))) {
                        i = end;
                        continue;
                    }
                }
                return end;
            }
            i = end;
            continue;
        }
        i += l;
    }
    return n;
}
