/* ingest/html.c: HTML files, through libxml2's forgiving HTML parser.
 *
 * Encoding: a byte order mark or a declared charset (<meta charset>,
 * <meta http-equiv=Content-Type>, <?xml encoding=?>) is left to libxml2 to
 * honour. Without one, the bytes are read as UTF-8 when they are valid UTF-8
 * and as Windows-1252 otherwise (what browsers do with legacy pages).
 *
 * The DOM is walked without recursion (documents can nest deeply):
 *   - dropped with everything inside: head (the <title> is read first and
 *     becomes the title, title_in_text = 0), script, style, noscript,
 *     template, svg, math, iframe, object, canvas, audio, video, select
 *     (option lists are menus, not prose), and
 *     elements marked hidden or aria-hidden="true" (never shown to readers);
 *   - nav, header, footer and aside are KEPT: in the documents people ingest
 *     (saved pages, exported manuals) they hold tables of contents, contact
 *     details and notes that are worth finding; repeated menus are a smaller
 *     harm than silently lost text;
 *   - h1..h6 => ING_HEADING, pre => ING_PRE;
 *   - block elements (p, div, section, blockquote, ...) end the current
 *     paragraph, so words of adjacent blocks never glue together; inline
 *     elements (a, b, span, ...) do not break;
 *   - a list (ul, ol, dl) is one block, each li/dt/dd one line ("- " or
 *     "N. " in front of li); a table is one block with one line per row and
 *     the cells separated by " | ". Inside lists and tables, block elements
 *     only break the line (lists) or add a space (table cells), and headings
 *     are plain text;
 *   - br is a line break, hr a paragraph break.
 * Text is capped at lim->max_text (RAG_ERR_LIMIT). */
#include "ingest/ing_int.h"
#include "base/mem.h"
#include "base/utf8.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NEST_MAX 64 /* list and table nesting tracked for numbering and cells */

typedef struct hw {
    ing_text *out;
    const ing_limits *lim;
    rag_buf cur;             /* text of the block being built */
    xmlNodePtr heading, pre; /* the element that opened heading/pre mode */
    int heading_level;
    int pre_depth; /* inside <pre> (any mode): whitespace is kept */
    int list_depth, table_depth;
    int list_num[NEST_MAX];  /* next number of an <ol>, 0 for <ul> */
    int row_cells[NEST_MAX]; /* cells so far in the current row */
    char prefix[16];         /* "- " or "N. " of an <li>, written before its first text */
    int too_big;
} hw;

static int name_is(xmlNodePtr n, const char *name)
{
    return n->name && !strcasecmp((const char *)n->name, name);
}

static int name_in(xmlNodePtr n, const char *const *list)
{
    for (; *list; list++)
        if (name_is(n, *list)) return 1;
    return 0;
}

static const char *const skip_tags[] = {
    "head",   "title",  "script", "style",  "noscript", "template", "svg",    "math",
    "iframe", "object", "embed",  "canvas", "audio",    "video",    "select", NULL};
static const char *const block_tags[] = {
    "address",  "article",  "aside",      "blockquote", "body",   "center",  "details", "dialog",
    "div",      "fieldset", "figcaption", "figure",     "footer", "form",    "header",  "hgroup",
    "html",     "legend",   "main",       "nav",        "p",      "section", "summary", "textarea",
    "noframes", "frameset", "frame",      "output",     NULL};

static int is_hidden(xmlNodePtr n)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        if (!a->name) continue;
        if (!strcasecmp((const char *)a->name, "hidden")) return 1;
        if (!strcasecmp((const char *)a->name, "aria-hidden") && a->children &&
            a->children->content && !strcasecmp((const char *)a->children->content, "true"))
            return 1;
    }
    return 0;
}

static int heading_level(xmlNodePtr n)
{
    const char *s = (const char *)n->name;
    if (s && (s[0] == 'h' || s[0] == 'H') && s[1] >= '1' && s[1] <= '6' && !s[2]) return s[1] - '0';
    return 0;
}

static void check_size(hw *w)
{
    if (w->out->text.len + w->cur.len > w->lim->max_text) w->too_big = 1;
}

/* Ends the current paragraph as a block. */
static void flush(hw *w)
{
    if (w->cur.len) ing_text_add(w->out, ING_PARA, 0, w->cur.data, w->cur.len);
    rag_buf_clear(&w->cur);
}

static int in_line_context(const hw *w)
{
    return w->list_depth > 0 || w->table_depth > 0;
}

/* What a block boundary means where we are. */
static void block_break(hw *w)
{
    if (w->heading)
        rag_buf_putc(&w->cur, ' ');
    else if (w->pre)
        rag_buf_putc(&w->cur, '\n');
    else if (w->table_depth > 0)
        rag_buf_putc(&w->cur, ' ');
    else if (w->list_depth > 0)
        rag_buf_putc(&w->cur, '\n');
    else
        flush(w);
}

static void text_node(hw *w, const char *s)
{
    if (!s) return;
    size_t n = strlen(s);
    if (w->prefix[0] && strspn(s, " \t\r\n\f") < n) { /* an item with visible text */
        rag_buf_puts(&w->cur, w->prefix);
        w->prefix[0] = 0;
    }
    if (w->pre_depth > 0) {
        rag_buf_append(&w->cur, s, n);
    } else { /* HTML whitespace, line breaks included, is one space */
        rag_buf_reserve(&w->cur, n);
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            rag_buf_putc(&w->cur, c == '\n' || c == '\r' || c == '\t' || c == '\f' ? ' ' : c);
        }
    }
    check_size(w);
}

static void enter(hw *w, xmlNodePtr n)
{
    int lv = heading_level(n);
    if (name_is(n, "br")) {
        rag_buf_putc(&w->cur, w->table_depth > 0 && !w->pre ? ' ' : '\n');
    } else if (name_is(n, "hr")) {
        block_break(w);
    } else if (lv) {
        if (in_line_context(w) || w->heading || w->pre) {
            block_break(w);
        } else {
            flush(w);
            w->heading = n;
            w->heading_level = lv;
        }
    } else if (name_is(n, "pre") || name_is(n, "listing") || name_is(n, "plaintext") ||
               name_is(n, "xmp")) {
        w->pre_depth++;
        if (in_line_context(w) || w->heading || w->pre) {
            block_break(w);
        } else {
            flush(w);
            w->pre = n;
        }
    } else if (name_is(n, "ul") || name_is(n, "ol") || name_is(n, "dl") || name_is(n, "menu") ||
               name_is(n, "dir")) {
        if (!in_line_context(w) && !w->heading && !w->pre)
            flush(w);
        else
            rag_buf_putc(&w->cur, w->table_depth ? ' ' : '\n');
        if (w->list_depth < NEST_MAX) w->list_num[w->list_depth] = name_is(n, "ol") ? 1 : 0;
        w->list_depth++;
    } else if (name_is(n, "li")) {
        rag_buf_putc(&w->cur, w->table_depth ? ' ' : '\n');
        /* the marker waits for the item's first text: items holding only
         * an image or nothing leave no empty "- " line */
        int d = w->list_depth - 1;
        if (d >= 0 && d < NEST_MAX && w->list_num[d] > 0)
            snprintf(w->prefix, sizeof w->prefix, "%d. ", w->list_num[d]++);
        else
            snprintf(w->prefix, sizeof w->prefix, "- ");
    } else if (name_is(n, "dt") || name_is(n, "dd")) {
        rag_buf_putc(&w->cur, w->table_depth ? ' ' : '\n');
    } else if (name_is(n, "table")) {
        if (!in_line_context(w) && !w->heading && !w->pre)
            flush(w);
        else
            rag_buf_putc(&w->cur, w->table_depth ? ' ' : '\n');
        if (w->table_depth < NEST_MAX) w->row_cells[w->table_depth] = 0;
        w->table_depth++;
    } else if (name_is(n, "tr")) {
        if (w->table_depth == 1)
            rag_buf_putc(&w->cur, '\n');
        else
            rag_buf_putc(&w->cur, ' ');
        if (w->table_depth > 0 && w->table_depth <= NEST_MAX) w->row_cells[w->table_depth - 1] = 0;
    } else if (name_is(n, "td") || name_is(n, "th")) {
        int d = w->table_depth - 1;
        if (d >= 0 && d < NEST_MAX && w->row_cells[d]++ > 0)
            rag_buf_puts(&w->cur, " | ");
        else
            rag_buf_putc(&w->cur, ' ');
    } else if (name_is(n, "caption")) {
        rag_buf_putc(&w->cur, '\n');
    } else if (name_in(n, block_tags)) {
        block_break(w);
    }
}

static void leave(hw *w, xmlNodePtr n)
{
    if (n == w->heading) {
        ing_text_add(w->out, ING_HEADING, w->heading_level, w->cur.data ? w->cur.data : "",
                     w->cur.len);
        rag_buf_clear(&w->cur);
        w->heading = NULL;
    } else if (name_is(n, "pre") || name_is(n, "listing") || name_is(n, "plaintext") ||
               name_is(n, "xmp")) {
        w->pre_depth--;
        if (n == w->pre) {
            ing_text_add(w->out, ING_PRE, 0, w->cur.data ? w->cur.data : "", w->cur.len);
            rag_buf_clear(&w->cur);
            w->pre = NULL;
        } else {
            block_break(w);
        }
    } else if (name_is(n, "ul") || name_is(n, "ol") || name_is(n, "dl") || name_is(n, "menu") ||
               name_is(n, "dir")) {
        w->list_depth--;
        if (!in_line_context(w) && !w->heading && !w->pre)
            flush(w);
        else
            rag_buf_putc(&w->cur, w->table_depth ? ' ' : '\n');
    } else if (name_is(n, "table")) {
        w->table_depth--;
        if (!in_line_context(w) && !w->heading && !w->pre)
            flush(w);
        else
            rag_buf_putc(&w->cur, w->table_depth ? ' ' : '\n');
    } else if (name_is(n, "li") || name_is(n, "dt") || name_is(n, "dd") || name_is(n, "caption")) {
        w->prefix[0] = 0;
        rag_buf_putc(&w->cur, w->table_depth ? ' ' : '\n');
    } else if (heading_level(n) || name_in(n, block_tags)) {
        block_break(w);
    }
}

/* Depth-first walk with enter/leave events, without recursion. */
static void walk(hw *w, xmlNodePtr root)
{
    xmlNodePtr n = root;
    while (n && !w->too_big) {
        int descend = 0;
        if (n->type == XML_ELEMENT_NODE) {
            if (!name_in(n, skip_tags) && !is_hidden(n)) {
                enter(w, n);
                descend = n->children != NULL;
                if (!descend) leave(w, n);
            }
        } else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            text_node(w, (const char *)n->content);
        }
        if (descend) {
            n = n->children;
            continue;
        }
        while (n && n != root && !n->next) { /* climb, closing elements */
            n = n->parent;
            if (n && n->type == XML_ELEMENT_NODE) leave(w, n);
        }
        if (!n || n == root) break;
        n = n->next;
    }
}

/* The text of the first <title> element, or NULL. */
static xmlNodePtr find_title(xmlNodePtr root)
{
    xmlNodePtr n = root;
    while (n) {
        if (n->type == XML_ELEMENT_NODE && name_is(n, "title")) return n;
        if (n->children && n->type == XML_ELEMENT_NODE && !name_is(n, "body")) {
            n = n->children;
            continue;
        }
        while (n && n != root && !n->next)
            n = n->parent;
        if (!n || n == root) break;
        n = n->next;
    }
    return NULL;
}

static void take_title(ing_text *out, xmlNodePtr t)
{
    rag_buf b = {0};
    for (xmlNodePtr c = t->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            rag_buf_puts(&b, (const char *)c->content);
    if (b.len) {
        ing_text_set_title(out, b.data, b.len);
        out->title_in_text = 0;
    }
    rag_buf_free(&b);
}

/* The encoding to impose on libxml2, or NULL to let it follow the BOM or the
 * document's own declaration. */
static const char *choose_encoding(const uint8_t *d, size_t n)
{
    if (n >= 2 && ((d[0] == 0xff && d[1] == 0xfe) || (d[0] == 0xfe && d[1] == 0xff))) return NULL;
    if (n >= 3 && !memcmp(d, "\xef\xbb\xbf", 3)) return NULL;
    char head[4097];
    size_t h = n < 4096 ? n : 4096;
    for (size_t i = 0; i < h; i++)
        head[i] = d[i] ? (char)d[i] : ' ';
    head[h] = 0;
    if (strcasestr(head, "charset") || strcasestr(head, "encoding=")) return NULL;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = d[i] < 0x80 ? 1 : rag_utf8_decode(d + i, n - i, &cp);
        if (!l) return "windows-1252";
        i += l;
    }
    return "UTF-8";
}

int ing_extract_html(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err)
{
    const char *name = path ? path : "(input)";
    out->mime = "text/html";
    if (n > INT_MAX)
        return rag_err_set(err, RAG_ERR_LIMIT, "%s: HTML file larger than %d bytes", name, INT_MAX);
    ing_xml_init();
    htmlDocPtr doc = htmlReadMemory((const char *)data, (int)n, NULL, choose_encoding(data, n),
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NONET | HTML_PARSE_COMPACT);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: cannot parse HTML: %s", name,
                           e && e->message ? e->message : "no document");
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int rc = 0;
    if (root) {
        xmlNodePtr t = find_title(root);
        if (t) take_title(out, t);
        hw w = {.out = out, .lim = lim};
        walk(&w, root);
        if (!w.too_big) {
            if (w.heading)
                ing_text_add(out, ING_HEADING, w.heading_level, rag_buf_str(&w.cur), w.cur.len);
            else
                ing_text_add(out, w.pre ? ING_PRE : ING_PARA, 0, rag_buf_str(&w.cur), w.cur.len);
        }
        rag_buf_free(&w.cur);
        if (w.too_big)
            rc = rag_err_set(err, RAG_ERR_LIMIT,
                             "%s: the text is larger than the limit of %zu bytes", name,
                             lim->max_text);
    }
    xmlFreeDoc(doc);
    return rc;
}
