/* ingest/text.c: ing_text, the normalised form every extractor produces.
 *
 * Normalisation happens once, here, as blocks are added, so that every
 * format gets the same treatment: valid UTF-8 (repaired), NFC, no control
 * characters, LF line ends, collapsed horizontal whitespace. */
#include "ingest/ing_int.h"
#include "base/mem.h"
#include "base/utf8.h"

#include <cjson/cJSON.h>
#include <string.h>

#define TITLE_MAX 512

/* What normalize_space carries from one character to the next. */
typedef struct space_state {
    int pending_space;   /* a space to emit before the next visible char */
    int pending_newline; /* a line break to emit before the next visible char */
    int blank_lines;     /* PRE: empty lines waiting to be emitted */
    int at_line_start;
    size_t line_start; /* for trimming trailing blanks in PRE */
    size_t begin;
} space_state;

/* Before a visible character: the space or line breaks waiting for one. */
static void emit_pending(ing_block_kind kind, space_state *st, rag_buf *out)
{
    if (out->len > st->begin) {
        if (st->blank_lines && kind == ING_PRE) {
            rag_buf_puts(out, "\n\n");
            st->line_start = out->len;
        } else if (st->pending_newline) {
            rag_buf_putc(out, '\n');
            st->line_start = out->len;
        } else if (st->pending_space) {
            rag_buf_putc(out, ' ');
        }
    }
    st->pending_space = st->pending_newline = st->blank_lines = 0;
    st->at_line_start = 0;
}

/* Rewrites NFC text s[0..n) into out with the whitespace rules of `kind`. */
static void normalize_space(ing_block_kind kind, const char *s, size_t n, rag_buf *out)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    space_state st = {.at_line_start = 1, .line_start = out->len, .begin = out->len};

    while (i < n) {
        if (p[i] == ' ' && kind != ING_PRE) { /* the usual space between words */
            if (!st.at_line_start) st.pending_space = 1;
            i++;
            continue;
        }
        if (p[i] > ' ' && p[i] < 0x7F) {
            /* a run of visible ASCII characters, copied at once */
            size_t j = i + 1;
            while (j < n && p[j] > ' ' && p[j] < 0x7F)
                j++;
            emit_pending(kind, &st, out);
            rag_buf_append(out, s + i, j - i);
            i = j;
            continue;
        }
        int32_t cp;
        size_t l = rag_utf8_decode(p + i, n - i, &cp);
        if (l == 0) { /* cannot happen after repair; be safe */
            i++;
            continue;
        }
        if (cp == '\r') {
            /* CR LF and lone CR are both one line end */
            cp = '\n';
            if (i + 1 < n && p[i + 1] == '\n') l++;
        }
        i += l;
        if (cp == 0x2028 || cp == 0x2029 || cp == 0x85) cp = '\n';
        if (cp == '\n') {
            if (kind == ING_HEADING) {
                st.pending_space = !st.at_line_start;
                continue;
            }
            if (kind == ING_PRE) {
                /* trim trailing blanks of the line just ended */
                while (out->len > st.line_start &&
                       (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t'))
                    out->len--;
                if (st.at_line_start && out->len > st.begin) st.blank_lines = 1;
                if (!st.at_line_start) st.pending_newline = 1;
                st.at_line_start = 1;
                continue;
            }
            if (!st.at_line_start) st.pending_newline = 1;
            st.pending_space = 0;
            st.at_line_start = 1;
            continue;
        }
        if (rag_cp_is_control(cp)) continue;
        if (cp == '\t' || rag_cp_is_space(cp)) {
            if (kind == ING_PRE) {
                if (st.pending_newline || st.blank_lines) {
                    rag_buf_puts(out, st.blank_lines ? "\n\n" : "\n");
                    st.pending_newline = st.blank_lines = 0;
                    st.line_start = out->len;
                }
                rag_buf_putc(out, cp == '\t' ? '\t' : ' ');
            } else if (!st.at_line_start) {
                st.pending_space = 1;
            }
            continue;
        }
        /* a visible character */
        emit_pending(kind, &st, out);
        char enc[4];
        rag_buf_append(out, enc, rag_utf8_encode(cp, enc));
    }
    if (kind == ING_PRE)
        while (out->len > st.line_start &&
               (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t'))
            out->len--;
    if (out->data) out->data[out->len] = 0;
}

/* Valid UTF-8 in NFC, into *tmp; returns the number of repairs. */
static size_t to_nfc(const char *s, size_t n, rag_buf *tmp)
{
    rag_buf repaired = {0};
    size_t bad = 0;
    int32_t cp;
    size_t i = 0;
    while (i < n) { /* fast validity scan */
        size_t l =
            (unsigned char)s[i] < 0x80 ? 1 : rag_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (!l) break;
        i += l;
    }
    if (i < n) {
        bad = rag_utf8_repair((const uint8_t *)s, n, &repaired, NULL);
        s = repaired.data;
        n = repaired.len;
    }
    if (rag_utf8_nfc(s, n, tmp) < 0) rag_buf_append(tmp, s, n); /* not reached: input is valid */
    rag_buf_free(&repaired);
    return bad;
}

void ing_text_add(ing_text *t, ing_block_kind kind, int level, const char *s, size_t n)
{
    rag_buf nfc = {0};
    t->n_repaired += to_nfc(s, n, &nfc);
    size_t sep = t->text.len ? 2 : 0;
    if (sep) rag_buf_append(&t->text, "\n\n", 2);
    size_t start = t->text.len;
    normalize_space(kind, rag_buf_str(&nfc), nfc.len, &t->text);
    rag_buf_free(&nfc);
    size_t len = t->text.len - start;
    if (len == 0) { /* nothing visible: undo the separator */
        t->text.len -= sep;
        if (t->text.data) t->text.data[t->text.len] = 0;
        return;
    }
    t->blocks = rag_xgrow(t->blocks, &t->cap_blocks, t->n_blocks + 1, sizeof *t->blocks);
    ing_block *b = &t->blocks[t->n_blocks++];
    b->kind = kind;
    b->level = kind == ING_HEADING ? (level < 1 ? 1 : level > 6 ? 6 : level) : 0;
    b->start = start;
    b->len = len;
}

void ing_text_set_title(ing_text *t, const char *s, size_t n)
{
    rag_buf nfc = {0}, one = {0};
    to_nfc(s, n, &nfc);
    normalize_space(ING_HEADING, rag_buf_str(&nfc), nfc.len, &one);
    rag_buf_free(&nfc);
    if (one.len > TITLE_MAX) { /* cut at a character boundary */
        size_t cut = TITLE_MAX;
        while (cut > 0 && ((unsigned char)one.data[cut] & 0xC0) == 0x80)
            cut--;
        one.len = cut;
        one.data[cut] = 0;
    }
    rag_free(t->title);
    t->title = one.len ? rag_buf_steal(&one) : NULL;
    rag_buf_free(&one);
}

void ing_text_free(ing_text *t)
{
    rag_buf_free(&t->text);
    rag_free(t->blocks);
    rag_free(t->title);
    rag_buf_free(&t->meta);
    memset(t, 0, sizeof *t);
}

void ing_meta_json(ing_text *t, const char *key, const char *json)
{
    cJSON *k = cJSON_CreateString(key);
    char *qk = cJSON_PrintUnformatted(k);
    if (t->meta.len) rag_buf_putc(&t->meta, ',');
    rag_buf_printf(&t->meta, "%s:%s", qk, json);
    cJSON_free(qk);
    cJSON_Delete(k);
}

void ing_meta_str(ing_text *t, const char *key, const char *val)
{
    rag_buf ok = {0};
    rag_utf8_repair((const uint8_t *)val, strlen(val), &ok, NULL);
    cJSON *v = cJSON_CreateString(rag_buf_str(&ok));
    char *qv = cJSON_PrintUnformatted(v);
    ing_meta_json(t, key, qv);
    cJSON_free(qv);
    cJSON_Delete(v);
    rag_buf_free(&ok);
}

/* ---- page text (PDF pages, OCR output) ------------------------------------ */

static int is_blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f') return 0;
    return 1;
}

static void add_paragraph(ing_text *out, const char *s, size_t n)
{
    rag_buf para = {0};
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        size_t a = i, b = e;
        while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r'))
            b--;
        if (b > a) {
            if (para.len) {
                size_t l = para.len;
                int hyphen = l >= 2 && para.data[l - 1] == '-' &&
                             ((para.data[l - 2] >= 'a' && para.data[l - 2] <= 'z') ||
                              (para.data[l - 2] >= 'A' && para.data[l - 2] <= 'Z')) &&
                             s[a] >= 'a' && s[a] <= 'z';
                if (hyphen)
                    para.len--; /* "infor-" + "mation" */
                else
                    rag_buf_putc(&para, ' ');
            }
            rag_buf_append(&para, s + a, b - a);
        }
        i = e + 1;
    }
    if (para.len) ing_text_add(out, ING_PARA, 0, para.data, para.len);
    rag_buf_free(&para);
}

void ing_text_add_page(ing_text *out, const char *s, size_t n)
{
    size_t i = 0, para = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        if (is_blank_line(s + i, e - i)) {
            if (i > para) add_paragraph(out, s + para, i - para);
            para = e + 1;
        }
        i = e + 1;
    }
    if (para < n) add_paragraph(out, s + para, n - para);
}
