/* ingest/rtf.c: Rich Text Format, read by a small reader of our own (no C
 * library on Debian reads RTF well).
 *
 * RTF is text: groups { }, control words \word[N] (an optional space ends
 * them), control symbols \x, and plain bytes in the document's code page.
 * The reader keeps a stack of group states (the destination text goes to,
 * the \ucN count, the paragraph's heading level, \intbl); groups nested
 * deeper than RTF_MAX_DEPTH fail the file (RAG_ERR_FORMAT with the
 * offset), as does a file that ends with groups still open.
 *
 * Characters: bytes and \'hh escapes are in the code page of \ansicpgN
 * (\ansi 1252, \mac, \pc 437, \pca 850; 1252 by default), converted by a
 * table for 1252 and by iconv ("CPn") for the others, per run of bytes so
 * that double-byte code pages work; \uN is a UTF-16 code unit (negative N
 * count from 65536; surrogate pairs are joined), after which the \ucN
 * (default 1) fallback characters are skipped. \par, \sect, \page and \row
 * end a paragraph, \line is a line break, \tab a tab, \cell " | " (a table
 * row is one paragraph), \emdash, \bullet, quotes, \~ and \_ their
 * characters; \bin N skips N bytes of binary data.
 *
 * Left out with everything inside: groups starting with \* (ignorable
 * destinations: field instructions, bookmarks, shape pictures...), font,
 * colour, list and revision tables, pictures (\pict), objects, headers and
 * footers, list numbering text, annotations, and \info except \title (the
 * title) and \author (the "author" metadata). The stylesheet is read for its
 * paragraph styles: a style named "heading N" (any case) or carrying
 * \outlinelevelN makes paragraphs in it (\sN) headings, and so does
 * \outlinelevelN on the paragraph itself (level N+1, at most 6). Footnote
 * text goes in a paragraph of its own after the paragraph citing it.
 * Not handled: per-font character sets (\fcharset; text in a font whose
 * charset differs from the document's code page is read in the latter),
 * text in shapes and text boxes (\shptxt). */
#include "ingest/ing_int.h"
#include "base/mem.h"
#include "base/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define RTF_MAX_DEPTH 200
#define MAX_STYLES 4096

enum { D_TEXT, D_SKIP, D_INFO, D_TITLE, D_AUTHOR, D_NOTE, D_STYLES, D_STYLE };

typedef struct gstate {
    unsigned char dest;
    unsigned char uc;    /* \ucN */
    unsigned char level; /* heading level of the paragraph, 0: body text */
    unsigned char intbl;
} gstate;

typedef struct rtf {
    const char *path;
    const uint8_t *d;
    size_t n, i;
    ing_text *out;
    const ing_limits *lim;
    gstate st[RTF_MAX_DEPTH + 1];
    int depth;
    int cp;       /* code page of bytes */
    iconv_t cd;   /* for cd_cp, or (iconv_t)-1 */
    int cd_cp;    /* the code page cd converts; 0: none opened */
    rag_buf pend; /* code page bytes not converted yet */
    rag_buf para; /* the paragraph being read */
    rag_buf title, author, notes, style;
    int style_num;               /* \sN of the style being defined, -1: not a paragraph style */
    int style_level;             /* its \outlinelevel + 1, 0: none */
    unsigned char *style_levels; /* MAX_STYLES: style number -> heading level */
    unsigned ucskip;             /* fallback characters left to skip after \uN */
    uint32_t high;               /* a pending high surrogate */
    int star;                    /* \* seen: the next control word starts a skipped group */
    int too_big;
} rtf;

static const uint16_t cp1252_hi[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

static void put_cp(rag_buf *b, uint32_t cp)
{
    char u[4];
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
        rag_buf_putc(b, (char)cp);
        return;
    }
    size_t l;
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), l = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)), l = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), l = 4;
    }
    rag_buf_append(b, u, l);
}

/* Where text of the current group goes, NULL: nowhere. */
static rag_buf *sink(rtf *r)
{
    switch (r->st[r->depth].dest) {
    case D_TEXT:
        return &r->para;
    case D_TITLE:
        return &r->title;
    case D_AUTHOR:
        return &r->author;
    case D_NOTE:
        return &r->notes;
    case D_STYLE:
        return &r->style;
    default:
        return NULL;
    }
}

static void check_size(rtf *r)
{
    if (r->out->text.len + r->para.len + r->notes.len + r->pend.len > r->lim->max_text)
        r->too_big = 1;
}

static const char *iconv_name(int cp, char *buf, size_t cap)
{
    if (cp == 10000) return "MACINTOSH";
    if (cp == 65001) return "UTF-8";
    snprintf(buf, cap, "CP%d", cp);
    return buf;
}

/* Converts the pending code page bytes into the current destination. */
static void flush_pend(rtf *r)
{
    if (!r->pend.len) return;
    rag_buf *b = sink(r);
    if (!b) {
        rag_buf_clear(&r->pend);
        return;
    }
    const unsigned char *p = (const unsigned char *)r->pend.data;
    size_t n = r->pend.len;
    int cp = r->cp;
    if (cp != 1252 && cp != 65001 && cp != 0) {
        if (r->cd_cp != cp) {
            if (r->cd_cp && r->cd != (iconv_t)-1) iconv_close(r->cd);
            char name[32];
            r->cd = iconv_open("UTF-8", iconv_name(cp, name, sizeof name));
            r->cd_cp = cp;
        }
        if (r->cd == (iconv_t)-1) cp = 1252; /* unknown code page: read as 1252 */
    }
    if (cp == 65001) {
        rag_buf_append(b, p, n); /* repaired later if invalid */
    } else if (cp == 1252 || cp == 0) {
        for (size_t k = 0; k < n; k++)
            put_cp(b, p[k] < 0x80 ? p[k] : p[k] < 0xA0 ? cp1252_hi[p[k] - 0x80] : p[k]);
    } else {
        iconv(r->cd, NULL, NULL, NULL, NULL);
        char *in = (char *)p;
        size_t in_left = n;
        while (in_left > 0) {
            char tmp[1024];
            char *o = tmp;
            size_t o_left = sizeof tmp;
            size_t rc = iconv(r->cd, &in, &in_left, &o, &o_left);
            rag_buf_append(b, tmp, sizeof tmp - o_left);
            if (rc == (size_t)-1 && errno != E2BIG) { /* EILSEQ, EINVAL: one byte lost */
                put_cp(b, 0xFFFD);
                in++, in_left--;
                iconv(r->cd, NULL, NULL, NULL, NULL);
            }
        }
    }
    rag_buf_clear(&r->pend);
    check_size(r);
}

static void put_text(rtf *r, uint32_t cp)
{
    flush_pend(r);
    rag_buf *b = sink(r);
    if (b) put_cp(b, cp);
}

static void put_str(rtf *r, const char *s)
{
    flush_pend(r);
    rag_buf *b = sink(r);
    if (b) rag_buf_puts(b, s);
}

static int blank(const rag_buf *b)
{
    for (size_t i = 0; i < b->len; i++)
        if (!isspace((unsigned char)b->data[i])) return 0;
    return 1;
}

/* Ends the paragraph: it becomes a block, then the notes it cited. */
static void end_para(rtf *r)
{
    flush_pend(r);
    gstate *g = &r->st[r->depth];
    if (g->dest == D_NOTE) {
        rag_buf_putc(&r->notes, '\n');
        return;
    }
    if (g->dest != D_TEXT) return;
    /* a table row ends in " | " after its last cell */
    while (r->para.len >= 3 && !memcmp(r->para.data + r->para.len - 3, " | ", 3))
        r->para.len -= 3;
    if (!blank(&r->para))
        ing_text_add(r->out, g->level ? ING_HEADING : ING_PARA, g->level, r->para.data,
                     r->para.len);
    rag_buf_clear(&r->para);
    if (!blank(&r->notes)) ing_text_add(r->out, ING_PARA, 0, r->notes.data, r->notes.len);
    rag_buf_clear(&r->notes);
    check_size(r);
}

/* The end of a style definition in the stylesheet. */
static void end_style(rtf *r)
{
    flush_pend(r);
    size_t l = r->style.len;
    const char *s = rag_buf_str(&r->style);
    while (l && (s[l - 1] == ';' || isspace((unsigned char)s[l - 1])))
        l--;
    while (l && isspace((unsigned char)*s))
        s++, l--;
    int level = r->style_level;
    if (!level && l == 9 && !strncasecmp(s, "heading ", 8) && s[8] >= '1' && s[8] <= '9')
        level = s[8] - '0';
    if (!level && l == 5 && !strncasecmp(s, "title", 5)) level = 1;
    if (level > 6) level = 6;
    if (r->style_num >= 0 && r->style_num < MAX_STYLES)
        r->style_levels[r->style_num] = (unsigned char)level;
    rag_buf_clear(&r->style);
}

static int in_list(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(w, *list)) return 1;
    return 0;
}

/* Destinations left out with everything inside. */
static const char *const skip_dest[] = {
    "fonttbl",   "colortbl",     "listtable",   "listoverridetable",
    "revtbl",    "rsidtbl",      "generator",   "pict",
    "object",    "objdata",      "themedata",   "colorschememapping",
    "datastore", "latentstyles", "xmlnstbl",    "mmathPr",
    "fldinst",   "header",       "headerl",     "headerr",
    "headerf",   "footer",       "footerl",     "footerr",
    "footerf",   "pntext",       "pntxta",      "pntxtb",
    "listtext",  "bkmkstart",    "bkmkend",     "nonshppict",
    "shpinst",   "template",     "docvar",      "xe",
    "tc",        "annotation",   "atnid",       "atnauthor",
    "atnref",    "atrfstart",    "atrfend",     "userprops",
    "filetbl",   "protusertbl",  "pgdsctbl",    "passwordhash",
    "ftnsep",    "ftnsepc",      "ftncn",       "aftnsep",
    "aftnsepc",  "aftncn",       "falt",        "panose",
    "blipuid",   "pn",           "listpicture", "wgrffmtfilter",
    "fchars",    "lchars",       "sp",          "sv",
    "sn",        "background",   NULL};

static void control_word(rtf *r, const char *w, int has_param, long param)
{
    gstate *g = &r->st[r->depth];
    int star = r->star;
    r->star = 0;
    if (r->ucskip > 0) { /* a control word stands for one fallback character */
        r->ucskip--;
        return;
    }
    if (g->dest == D_SKIP) return;
    flush_pend(r);
    if (star || in_list(w, skip_dest)) {
        g->dest = D_SKIP;
        return;
    }
    /* the document: code page, info, stylesheet */
    if (!strcmp(w, "ansicpg") && has_param) {
        r->cp = (int)param;
    } else if (!strcmp(w, "ansi")) {
        r->cp = 1252;
    } else if (!strcmp(w, "mac")) {
        r->cp = 10000;
    } else if (!strcmp(w, "pc")) {
        r->cp = 437;
    } else if (!strcmp(w, "pca")) {
        r->cp = 850;
    } else if (!strcmp(w, "info")) {
        g->dest = D_INFO;
    } else if (!strcmp(w, "title")) {
        if (g->dest == D_INFO) g->dest = D_TITLE;
    } else if (!strcmp(w, "author")) {
        if (g->dest == D_INFO) g->dest = D_AUTHOR;
    } else if (!strcmp(w, "stylesheet")) {
        g->dest = D_STYLES;
    } else if (g->dest == D_STYLE || g->dest == D_STYLES) {
        if (!strcmp(w, "s") && has_param) {
            r->style_num = param >= 0 ? (int)param : -1;
        } else if (!strcmp(w, "cs") || !strcmp(w, "ds") || !strcmp(w, "ts")) {
            r->style_num = -1;
        } else if (!strcmp(w, "outlinelevel") && has_param && param >= 0 && param < 9) {
            r->style_level = (int)param + 1;
        }
    } else if (g->dest == D_INFO) {
        g->dest = D_INFO; /* other info fields: left out */
    } else if (!strcmp(w, "footnote")) {
        if (g->dest == D_TEXT) g->dest = D_NOTE;
    } else if (!strcmp(w, "u") && has_param) {
        uint32_t cu = (uint32_t)(param < 0 ? param + 65536 : param) & 0xFFFF;
        if (cu >= 0xD800 && cu < 0xDC00) {
            r->high = cu;
        } else if (cu >= 0xDC00 && cu < 0xE000 && r->high) {
            put_text(r, 0x10000 + ((r->high - 0xD800) << 10) + (cu - 0xDC00));
            r->high = 0;
        } else {
            put_text(r, cu);
            r->high = 0;
        }
        r->ucskip = g->uc;
    } else if (!strcmp(w, "uc") && has_param) {
        g->uc = (unsigned char)(param < 0 ? 0 : param > 16 ? 16 : param);
    } else if (!strcmp(w, "par") || !strcmp(w, "sect") || !strcmp(w, "page")) {
        if (g->intbl && g->dest == D_TEXT)
            put_str(r, " ");
        else
            end_para(r);
    } else if (!strcmp(w, "row")) {
        end_para(r);
    } else if (!strcmp(w, "cell")) {
        put_str(r, " | ");
    } else if (!strcmp(w, "nestcell")) {
        put_str(r, " ");
    } else if (!strcmp(w, "line")) {
        put_str(r, g->intbl ? " " : "\n");
    } else if (!strcmp(w, "tab")) {
        put_str(r, "\t");
    } else if (!strcmp(w, "pard")) {
        g->level = 0;
        g->intbl = 0;
    } else if (!strcmp(w, "intbl")) {
        g->intbl = 1;
    } else if (!strcmp(w, "s") && has_param) {
        g->level = param >= 0 && param < MAX_STYLES ? r->style_levels[param] : 0;
    } else if (!strcmp(w, "outlinelevel") && has_param) {
        g->level = param >= 0 && param < 9 ? (unsigned char)(param >= 5 ? 6 : param + 1) : 0;
    } else if (!strcmp(w, "emdash")) {
        put_text(r, 0x2014);
    } else if (!strcmp(w, "endash")) {
        put_text(r, 0x2013);
    } else if (!strcmp(w, "bullet")) {
        put_text(r, 0x2022);
    } else if (!strcmp(w, "lquote")) {
        put_text(r, 0x2018);
    } else if (!strcmp(w, "rquote")) {
        put_text(r, 0x2019);
    } else if (!strcmp(w, "ldblquote")) {
        put_text(r, 0x201C);
    } else if (!strcmp(w, "rdblquote")) {
        put_text(r, 0x201D);
    } else if (!strcmp(w, "emspace") || !strcmp(w, "enspace") || !strcmp(w, "qmspace")) {
        put_str(r, " ");
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A byte of text in the code page. */
static void text_byte(rtf *r, uint8_t c)
{
    if (r->ucskip > 0) {
        r->ucskip--;
        return;
    }
    if (!sink(r)) return;
    if (r->high) { /* a high surrogate not followed by its pair */
        r->high = 0;
        put_text(r, 0xFFFD);
    }
    rag_buf_putc(&r->pend, (char)c);
    if (r->pend.len > 4096) flush_pend(r);
}

static int parse(rtf *r, rag_err *err)
{
    const uint8_t *d = r->d;
    size_t n = r->n;
    while (r->i < n && !r->too_big) {
        uint8_t c = d[r->i];
        if (c == '{') {
            flush_pend(r);
            r->ucskip = 0;
            if (r->depth >= RTF_MAX_DEPTH)
                return rag_err_set(err, RAG_ERR_FORMAT,
                                   "%s: RTF groups nested deeper than %d at offset %zu", r->path,
                                   RTF_MAX_DEPTH, r->i);
            r->st[r->depth + 1] = r->st[r->depth];
            r->depth++;
            if (r->st[r->depth].dest == D_STYLES) { /* a style definition */
                r->st[r->depth].dest = D_STYLE;
                r->style_num = 0;
                r->style_level = 0;
                rag_buf_clear(&r->style);
            }
            r->i++;
            continue;
        }
        if (c == '}') {
            flush_pend(r);
            r->ucskip = 0;
            r->star = 0;
            int was = r->st[r->depth].dest;
            r->depth--;
            r->i++;
            if (was == D_STYLE && r->st[r->depth].dest == D_STYLES) end_style(r);
            if (was == D_NOTE && r->st[r->depth].dest != D_NOTE) rag_buf_putc(&r->notes, '\n');
            if (r->depth == 0) return 0; /* the document's group is closed */
            continue;
        }
        if (c == '\\') {
            if (r->i + 1 >= n) {
                r->i++;
                break;
            }
            uint8_t x = d[r->i + 1];
            if (isalpha(x)) {
                char word[33];
                size_t wl = 0, j = r->i + 1;
                while (j < n && isalpha(d[j])) {
                    if (wl < sizeof word - 1) word[wl++] = (char)d[j];
                    j++;
                }
                word[wl] = 0;
                int has_param = 0, neg = 0;
                long param = 0;
                if (j < n && d[j] == '-' && j + 1 < n && isdigit(d[j + 1])) neg = 1, j++;
                while (j < n && isdigit(d[j])) {
                    has_param = 1;
                    if (param < 100000000L) param = param * 10 + (d[j] - '0');
                    j++;
                }
                if (neg) param = -param;
                if (j < n && d[j] == ' ') j++;
                r->i = j;
                if (!strcmp(word, "bin") && has_param) { /* binary data: never text */
                    flush_pend(r);
                    if (param < 0 || (size_t)param > n - r->i)
                        return rag_err_set(err, RAG_ERR_FORMAT,
                                           "%s: truncated RTF: \\bin%ld at offset %zu runs past "
                                           "the end",
                                           r->path, param, r->i);
                    r->i += (size_t)param;
                    continue;
                }
                control_word(r, word, has_param, param);
                continue;
            }
            r->i += 2;
            if (x == '\'') {
                int h1 = r->i < n ? hexval(d[r->i]) : -1;
                int h2 = r->i + 1 < n ? hexval(d[r->i + 1]) : -1;
                if (h1 >= 0 && h2 >= 0) {
                    r->i += 2;
                    if (r->st[r->depth].dest != D_SKIP) text_byte(r, (uint8_t)(h1 * 16 + h2));
                }
                continue;
            }
            if (x == '*') {
                r->star = 1;
                continue;
            }
            if (r->st[r->depth].dest == D_SKIP) continue;
            if (r->ucskip > 0) {
                r->ucskip--;
                continue;
            }
            if (x == '\\' || x == '{' || x == '}') {
                text_byte(r, x);
            } else if (x == '~') {
                put_text(r, 0xA0);
            } else if (x == '_') {
                put_text(r, 0x2011);
            } else if (x == '\n' || x == '\r') {
                control_word(r, "par", 0, 0);
            }
            continue; /* \- (optional hyphen), \:, \| ... */
        }
        r->i++;
        if (c == '\r' || c == '\n') continue;
        if (r->st[r->depth].dest == D_SKIP) continue;
        if (c == '\t') {
            if (r->ucskip > 0)
                r->ucskip--;
            else
                put_str(r, "\t");
            continue;
        }
        if (c < 0x20) continue;
        text_byte(r, c);
    }
    if (r->too_big) return 0;
    return rag_err_set(err, RAG_ERR_FORMAT,
                       "%s: truncated RTF: %d group%s still open at the end (offset %zu)", r->path,
                       r->depth, r->depth == 1 ? "" : "s", r->n);
}

static void one_line(const rag_buf *b, rag_buf *out)
{
    ing_text tmp = {0};
    ing_text_set_title(&tmp, rag_buf_str(b), b->len);
    if (tmp.title) rag_buf_puts(out, tmp.title);
    ing_text_free(&tmp);
}

int ing_extract_rtf(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                    ing_text *out, rag_err *err)
{
    const char *name = path ? path : "(input)";
    out->mime = "application/rtf";
    size_t start = 0;
    if (n >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) start = 3;
    while (start < n && isspace(data[start]))
        start++;
    if (n - start < 5 || memcmp(data + start, "{\\rtf", 5))
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: not RTF: no {\\rtf header at offset %zu", name,
                           start);
    rtf *r = rag_xcalloc(1, sizeof *r);
    r->path = name;
    r->d = data;
    r->n = n;
    r->i = start + 1; /* inside the document's group */
    r->depth = 1;
    r->st[1] = (gstate){.dest = D_TEXT, .uc = 1};
    r->out = out;
    r->lim = lim;
    r->cp = 1252;
    r->cd = (iconv_t)-1;
    r->style_levels = rag_xcalloc(MAX_STYLES, 1);
    int rc = parse(r, err);
    if (!rc && !r->too_big) {
        r->depth = 1; /* what is left belongs to the body */
        r->st[1].dest = D_TEXT;
        end_para(r);
    }
    if (!rc && r->too_big)
        rc = rag_err_set(err, RAG_ERR_LIMIT, "%s: the text is larger than the limit of %zu bytes",
                         name, lim->max_text);
    if (!rc) {
        rag_buf t = {0};
        one_line(&r->title, &t);
        if (t.len) {
            ing_text_set_title(out, t.data, t.len);
            out->title_in_text = 0;
        }
        rag_buf_clear(&t);
        one_line(&r->author, &t);
        if (t.len) ing_meta_str(out, "author", t.data);
        rag_buf_free(&t);
    }
    if (r->cd_cp && r->cd != (iconv_t)-1) iconv_close(r->cd);
    rag_buf_free(&r->pend);
    rag_buf_free(&r->para);
    rag_buf_free(&r->title);
    rag_buf_free(&r->author);
    rag_buf_free(&r->notes);
    rag_buf_free(&r->style);
    rag_free(r->style_levels);
    rag_free(r);
    return rc;
}
