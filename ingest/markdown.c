/* ingest/markdown.c: Markdown files.
 *
 * Not a renderer: the text stays Markdown, and only the block structure is
 * recognised so that chunks can follow headings and code stays intact:
 *   - ATX headings ("#".."######" then a space, optional closing #s) and
 *     setext headings (a paragraph underlined with === or ---) become
 *     ING_HEADING blocks with their level;
 *   - fenced code (``` or ~~~, closed by a fence of the same character at
 *     least as long; an unclosed fence runs to the end) and indented code
 *     (4 columns, after a blank line, not inside a list) become ING_PRE;
 *     nothing inside code is interpreted, so "# x" in a fence is no heading;
 *   - paragraphs end at blank lines; thematic breaks (---, ***, ___) and the
 *     delimiter rows of pipe tables (|---|:--|) are dropped;
 *   - a YAML front matter block ("---" on the first line up to a "---" or
 *     "..." line) is dropped; its `title:` becomes the title
 *     (title_in_text = 0). Otherwise ing_extract gives the title (the
 *     first heading, else the first line; title_in_text = 1).
 *
 * Inline markup is stripped from paragraphs and headings (not from code),
 * because it is noise for keyword search and in quoted snippets, while the
 * words stay: [text](url) and [text][ref] -> text, ![alt](src) -> alt,
 * <https://x> -> https://x, `code` -> code, backslash escapes -> the
 * character, and emphasis delimiters (* ** _ __ ~~) -> nothing, but only
 * when they open and close a span: an opener follows a space or punctuation
 * and precedes a non-space, a closer mirrors that, and the closer must come
 * within 1000 bytes. So "snake_case_name", "2*3*4", a "* " bullet and
 * "5 * 3" are left alone. Bare URLs and inline HTML are kept. */
#include "ingest/ing_int.h"
#include "base/mem.h"

#include <string.h>

#define EMPH_WINDOW 1000 /* how far ahead a closing delimiter is looked for */
#define LINK_WINDOW 2000 /* longest [text] or (url) considered a link */
#define INLINE_DEPTH 4   /* links inside link text... */

/* ---- inline markup ------------------------------------------------------ */

/* Every look-ahead below is bounded by a window, and all of them together
 * by a budget proportional to the paragraph, so that hostile input ("[[[[",
 * "*a *a *a") stays linear: once the budget is spent, the rest of the
 * paragraph is copied as is. */
typedef struct inl {
    size_t budget;
    /* per delimiter (*, _, ~) and run length: the next known closer at or
     * after `scanned_from`, SIZE_MAX when none up to `scanned_to` */
    size_t closer_at[3][4], scanned_to[3][4];
} inl;

static int is_space_c(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_punct_c(char c)
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}

static size_t spend(inl *x, size_t want)
{
    size_t got = want < x->budget ? want : x->budget;
    x->budget -= got;
    return got;
}

/* Index just past the bracket matching s[i] (open/close), or 0 when there is
 * none within LINK_WINDOW bytes. */
static size_t match_bracket(inl *x, const char *s, size_t n, size_t i, char open, char close)
{
    int depth = 0;
    size_t lim = i + spend(x, LINK_WINDOW);
    if (lim > n) lim = n;
    for (size_t j = i; j < lim; j++) {
        if (s[j] == '\\' && j + 1 < lim) {
            j++;
            continue;
        }
        if (s[j] == open)
            depth++;
        else if (s[j] == close && --depth == 0)
            return j + 1;
    }
    return 0;
}

/* s[i] == '[': a link "[text](url)" or "[text][ref]"? Gives the text span
 * and the end of the whole construct. */
static int parse_link(inl *x, const char *s, size_t n, size_t i, size_t *t0, size_t *t1,
                      size_t *end)
{
    size_t close = match_bracket(x, s, n, i, '[', ']');
    if (!close || close >= n) return 0;
    size_t e = 0;
    if (s[close] == '(')
        e = match_bracket(x, s, n, close, '(', ')');
    else if (s[close] == '[')
        e = match_bracket(x, s, n, close, '[', ']');
    if (!e) return 0;
    *t0 = i + 1;
    *t1 = close - 1;
    *end = e;
    return 1;
}

/* Length of the run of c at s[i] (at most `cap`). */
static size_t run_len(const char *s, size_t n, size_t i, char c, size_t cap)
{
    size_t k = 0;
    while (i + k < n && s[i + k] == c && k < cap)
        k++;
    return k;
}

/* An opening delimiter is followed by a non-space and preceded by a space
 * or punctuation (so "2*3*4" and snake_case stay as they are). */
static int can_open(const char *s, size_t n, size_t i, size_t k)
{
    char before = i ? s[i - 1] : ' ', after = i + k < n ? s[i + k] : ' ';
    return !is_space_c(after) && (is_space_c(before) || is_punct_c(before));
}

static int can_close(const char *s, size_t n, size_t i, size_t k)
{
    char before = i ? s[i - 1] : ' ', after = i + k < n ? s[i + k] : ' ';
    return !is_space_c(before) && (is_space_c(after) || is_punct_c(after));
}

/* Is there a closing run of exactly k times c within EMPH_WINDOW after i?
 * Closers found are remembered, so each byte is scanned once per kind. */
static int has_closer(inl *x, const char *s, size_t n, size_t i, size_t k, char c, int ci)
{
    size_t lim = i + EMPH_WINDOW < n ? i + EMPH_WINDOW : n;
    size_t *at = &x->closer_at[ci][k], *to = &x->scanned_to[ci][k];
    if (*at != SIZE_MAX && *at >= i) return *at < lim;
    size_t j = *to > i ? *to : i;
    *at = SIZE_MAX;
    for (; j < lim; j++) {
        if (s[j] != c) continue;
        size_t r = run_len(s, n, j, c, 8);
        if (r == k && j > i && can_close(s, n, j, r)) {
            *at = j;
            break;
        }
        j += r - 1;
    }
    *to = j;
    return *at != SIZE_MAX;
}

static void md_inline(inl *x, const char *s, size_t n, rag_buf *out, int depth)
{
    int open_runs[3][4] = {{0}}; /* removed openers not yet closed: [kind][len] */
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            x->closer_at[a][b] = SIZE_MAX, x->scanned_to[a][b] = 0;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (x->budget == 0) { /* hostile input: copy the rest */
            rag_buf_append(out, s + i, n - i);
            break;
        }
        if (c == '\\' && i + 1 < n && is_punct_c(s[i + 1])) {
            rag_buf_putc(out, s[i + 1]);
            i += 2;
            continue;
        }
        if (c == '`') { /* code span: a closing run of exactly as many backticks */
            size_t k = run_len(s, n, i, '`', n);
            size_t j = i + k, lim = i + k + spend(x, LINK_WINDOW);
            int found = 0;
            if (lim > n) lim = n;
            while (j < lim) {
                const char *p = memchr(s + j, '`', lim - j);
                if (!p) break;
                j = (size_t)(p - s);
                size_t r = run_len(s, n, j, '`', n);
                if (r == k) {
                    found = 1;
                    break;
                }
                j += r;
            }
            if (found) {
                size_t a = i + k, b = j;
                if (b - a >= 2 && s[a] == ' ' && s[b - 1] == ' ') a++, b--;
                rag_buf_append(out, s + a, b - a);
                i = j + k;
            } else {
                rag_buf_append(out, s + i, k);
                i += k;
            }
            continue;
        }
        size_t t0, t1, end;
        if (depth < INLINE_DEPTH && c == '!' && i + 1 < n && s[i + 1] == '[' &&
            parse_link(x, s, n, i + 1, &t0, &t1, &end)) {
            inl sub = *x;
            md_inline(&sub, s + t0, t1 - t0, out, depth + 1);
            x->budget = sub.budget;
            i = end;
            continue;
        }
        if (depth < INLINE_DEPTH && c == '[' && parse_link(x, s, n, i, &t0, &t1, &end)) {
            inl sub = *x;
            md_inline(&sub, s + t0, t1 - t0, out, depth + 1);
            x->budget = sub.budget;
            i = end;
            continue;
        }
        if (c == '<') { /* autolink: <scheme:...> or <user@host>, no spaces */
            size_t j = i + 1, lim = i + 1 + spend(x, LINK_WINDOW);
            if (lim > n) lim = n;
            while (j < lim && s[j] != '>' && s[j] != '<' && !is_space_c(s[j]))
                j++;
            if (j < lim && s[j] == '>') {
                const char *a = s + i + 1;
                size_t l = j - i - 1;
                int url = (l > 7 && !strncmp(a, "http://", 7)) ||
                          (l > 8 && !strncmp(a, "https://", 8)) ||
                          (l > 7 && !strncmp(a, "mailto:", 7)) || (l > 2 && memchr(a, '@', l));
                if (url) {
                    rag_buf_append(out, a, l);
                    i = j + 1;
                    continue;
                }
            }
        }
        if (c == '*' || c == '_' || c == '~') {
            size_t k = run_len(s, n, i, c, n);
            int ci = c == '*' ? 0 : c == '_' ? 1 : 2;
            int ok_len = c == '~' ? k == 2 : k <= 3;
            if (ok_len) {
                if (open_runs[ci][k] > 0 && can_close(s, n, i, k)) {
                    open_runs[ci][k]--;
                    i += k;
                    continue;
                }
                if (can_open(s, n, i, k) && has_closer(x, s, n, i + k, k, c, ci)) {
                    open_runs[ci][k]++;
                    i += k;
                    continue;
                }
            }
            rag_buf_append(out, s + i, k);
            i += k;
            continue;
        }
        rag_buf_putc(out, c);
        i++;
    }
}

/* ---- block structure ------------------------------------------------------ */

typedef struct md {
    ing_text *out;
    rag_buf para;     /* lines of the current paragraph */
    int para_is_list; /* the paragraph starts with a list marker */
    int list_context; /* last paragraph was a list: indented lines continue it */
    rag_buf code;     /* lines of the current code block */
    int in_fence, in_indented;
    char fence_char;
    size_t fence_len, fence_indent;
} md;

static void add_inline(ing_text *out, ing_block_kind kind, int level, const char *s, size_t n)
{
    rag_buf b = {0};
    inl x = {.budget = 16 * n + 65536};
    md_inline(&x, s, n, &b, 0);
    ing_text_add(out, kind, level, rag_buf_str(&b), b.len);
    rag_buf_free(&b);
}

static void flush_para(md *m)
{
    if (m->para.len) {
        add_inline(m->out, ING_PARA, 0, m->para.data, m->para.len);
        m->list_context = m->para_is_list;
    }
    rag_buf_clear(&m->para);
    m->para_is_list = 0;
}

static void flush_code(md *m)
{
    if (m->code.len) ing_text_add(m->out, ING_PRE, 0, m->code.data, m->code.len);
    rag_buf_clear(&m->code);
    m->in_fence = m->in_indented = 0;
}

/* Columns of leading whitespace (tabs to the next multiple of 4) and the
 * byte offset where the content starts. */
static size_t indent_of(const char *s, size_t n, size_t *off)
{
    size_t col = 0, i = 0;
    for (; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
        col = s[i] == '\t' ? (col / 4 + 1) * 4 : col + 1;
    *off = i;
    return col;
}

/* Appends line s[0..n) without its first `cols` columns of indentation. */
static void append_dedented(rag_buf *b, const char *s, size_t n, size_t cols)
{
    size_t col = 0, i = 0;
    while (i < n && col < cols && (s[i] == ' ' || s[i] == '\t')) {
        col = s[i] == '\t' ? (col / 4 + 1) * 4 : col + 1;
        i++;
    }
    rag_buf_append(b, s + i, n - i);
    rag_buf_putc(b, '\n');
}

static int only_chars(const char *s, size_t n, const char *set, size_t *count_first)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == set[0])
            cnt++;
        else if (!s[i] || !strchr(set + 1, s[i]))
            return 0;
    }
    if (count_first) *count_first = cnt;
    return 1;
}

static int is_list_marker(const char *t, size_t n)
{
    if (n >= 2 && (t[0] == '-' || t[0] == '*' || t[0] == '+') && (t[1] == ' ' || t[1] == '\t'))
        return 1;
    size_t i = 0;
    while (i < n && i < 9 && t[i] >= '0' && t[i] <= '9')
        i++;
    return i > 0 && i + 1 < n && (t[i] == '.' || t[i] == ')') &&
           (t[i + 1] == ' ' || t[i + 1] == '\t');
}

static int is_thematic_break(const char *t, size_t n)
{
    const char *sets[] = {"- \t", "* \t", "_ \t"};
    for (int k = 0; k < 3; k++) {
        size_t cnt;
        if (only_chars(t, n, sets[k], &cnt) && cnt >= 3) return 1;
    }
    return 0;
}

/* An ATX heading: level (1..6) and the text span; 0 when t is none. */
static int atx_heading(const char *t, size_t n, size_t *h0, size_t *h1)
{
    size_t k = 0;
    while (k < n && t[k] == '#')
        k++;
    if (k < 1 || k > 6 || (k < n && t[k] != ' ' && t[k] != '\t')) return 0;
    size_t a = k, b = n;
    while (a < b && (t[a] == ' ' || t[a] == '\t'))
        a++;
    while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t'))
        b--;
    /* optional closing sequence: spaces then #s at the end */
    size_t c = b;
    while (c > a && t[c - 1] == '#')
        c--;
    if (c == a)
        b = a; /* "## ##": empty heading */
    else if (c < b && (t[c - 1] == ' ' || t[c - 1] == '\t'))
        b = c;
    while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t'))
        b--;
    *h0 = a;
    *h1 = b;
    return (int)k;
}

/* Front matter: "---" alone on the first line, closed by "---" or "...".
 * Returns the offset just after it (0 when there is none) and sets the
 * title from a `title:` line. */
static size_t front_matter(const char *s, size_t n, ing_text *out)
{
    size_t i = 0;
    if (n < 4 || strncmp(s, "---", 3)) return 0;
    i = 3;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] == '\r') i++;
    if (i >= n || s[i] != '\n') return 0;
    size_t body = ++i;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t le = e;
        while (le > i && (s[le - 1] == '\r' || s[le - 1] == ' ' || s[le - 1] == '\t'))
            le--;
        if ((le - i == 3 && (!strncmp(s + i, "---", 3) || !strncmp(s + i, "...", 3)))) {
            /* closed: now read the title */
            for (size_t j = body; j < i;) {
                size_t f = j;
                while (f < i && s[f] != '\n')
                    f++;
                if (f - j > 6 && !strncmp(s + j, "title:", 6)) {
                    size_t a = j + 6, b = f;
                    while (a < b && (s[a] == ' ' || s[a] == '\t'))
                        a++;
                    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r'))
                        b--;
                    if (b - a >= 2 && (s[a] == '"' || s[a] == '\'') && s[b - 1] == s[a]) a++, b--;
                    if (b > a) {
                        ing_text_set_title(out, s + a, b - a);
                        out->title_in_text = 0;
                    }
                    break;
                }
                j = f + 1;
            }
            return e < n ? e + 1 : n;
        }
        i = e + 1;
    }
    return 0; /* never closed: not front matter */
}

static void md_line(md *m, const char *line, size_t n)
{
    if (n && line[n - 1] == '\r') n--;
    size_t off;
    size_t ind = indent_of(line, n, &off);
    const char *t = line + off;
    size_t tn = n - off;

    if (m->in_fence) {
        size_t k;
        if (ind < 4 && tn >= m->fence_len && run_len(t, tn, 0, m->fence_char, tn) >= m->fence_len) {
            k = run_len(t, tn, 0, m->fence_char, tn);
            if (only_chars(t + k, tn - k, " \t", NULL)) {
                flush_code(m);
                return;
            }
        }
        append_dedented(&m->code, line, n, m->fence_indent);
        return;
    }
    if (tn == 0) { /* blank line */
        if (m->in_indented)
            rag_buf_putc(&m->code, '\n');
        else
            flush_para(m);
        return;
    }
    if (m->in_indented) {
        if (ind >= 4) {
            append_dedented(&m->code, line, n, 4);
            return;
        }
        flush_code(m);
    }
    if (ind >= 4) {
        if (m->para.len || m->list_context) {      /* lazy continuation / list item text */
            if (!m->para.len) m->para_is_list = 1; /* keeps the list context going */
            rag_buf_append(&m->para, line, n);
            rag_buf_putc(&m->para, '\n');
            return;
        }
        m->in_indented = 1;
        append_dedented(&m->code, line, n, 4);
        return;
    }
    /* opening fence */
    if (tn >= 3 && (t[0] == '`' || t[0] == '~')) {
        size_t k = run_len(t, tn, 0, t[0], tn);
        if (k >= 3 && !(t[0] == '`' && memchr(t + k, '`', tn - k))) {
            flush_para(m);
            m->list_context = 0;
            m->in_fence = 1;
            m->fence_char = t[0];
            m->fence_len = k;
            m->fence_indent = ind;
            return;
        }
    }
    size_t h0, h1;
    int level = atx_heading(t, tn, &h0, &h1);
    if (level) {
        flush_para(m);
        m->list_context = 0;
        add_inline(m->out, ING_HEADING, level, t + h0, h1 - h0);
        return;
    }
    size_t cnt;
    if (m->para.len && !m->para_is_list) { /* setext underline */
        size_t b = tn;
        while (b > 0 && (t[b - 1] == ' ' || t[b - 1] == '\t'))
            b--;
        if ((only_chars(t, b, "=", &cnt) || only_chars(t, b, "-", &cnt)) && cnt == b) {
            add_inline(m->out, ING_HEADING, t[0] == '=' ? 1 : 2, m->para.data, m->para.len);
            rag_buf_clear(&m->para);
            m->list_context = 0;
            return;
        }
    }
    if (is_thematic_break(t, tn)) {
        flush_para(m);
        m->list_context = 0;
        return;
    }
    /* the delimiter row of a pipe table: |---|:---:| */
    if (memchr(t, '|', tn) && memchr(t, '-', tn) && only_chars(t, tn, "-|: \t", NULL)) return;

    if (!m->para.len) {
        m->para_is_list = is_list_marker(t, tn);
        if (!m->para_is_list && ind == 0) m->list_context = 0;
    }
    rag_buf_append(&m->para, line, n);
    rag_buf_putc(&m->para, '\n');
}

int ing_extract_markdown(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                         ing_text *out, rag_err *err)
{
    out->mime = "text/markdown";
    rag_buf txt = {0};
    size_t repaired = 0;
    int rc = ing_decode_text(path, data, n, lim, &txt, &repaired, err);
    out->n_repaired += repaired;
    if (rc) {
        rag_buf_free(&txt);
        return rc;
    }
    const char *s = rag_buf_str(&txt);
    size_t len = txt.len;
    md m = {.out = out};
    size_t i = front_matter(s, len, out);
    while (i < len) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - s) : len;
        md_line(&m, s + i, e - i);
        i = e + 1;
    }
    flush_para(&m);
    flush_code(&m);
    rag_buf_free(&m.para);
    rag_buf_free(&m.code);
    rag_buf_free(&txt);
    return 0;
}
