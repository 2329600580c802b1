/* ingest/docx.c: Word documents (Office Open XML, .docx).
 *
 * Structure: a zip archive (read through ooxml.c with libzip straight from
 * the buffer, under its unzipped-size and ratio limits; the XML parsed with
 * libxml2 without network, DTDs or entity substitution) of XML parts:
 *   word/document.xml   the body: <w:document><w:body> holding paragraphs
 *                       <w:p> and tables <w:tbl>/<w:tr>/<w:tc>, which hold
 *                       paragraphs again. A paragraph's style is in
 *                       <w:pPr><w:pStyle w:val="Heading1"/>; its text is in
 *                       runs <w:r> as <w:t>, with <w:tab/>, <w:br/>, <w:cr/>.
 *                       Runs may sit inside <w:hyperlink>, <w:ins>,
 *                       <w:smartTag>, <w:sdt> content controls...
 *   word/styles.xml     paragraph styles: <w:style w:styleId> with a
 *                       <w:name>, <w:basedOn> and maybe <w:outlineLvl>.
 *   word/footnotes.xml, endnotes.xml, comments.xml, header*.xml,
 *   footer*.xml         found through word/_rels/document.xml.rels (the
 *                       first three also by those names).
 *   docProps/core.xml   metadata; <dc:title> is the title when present.
 *
 * Mapping: a paragraph is a block; headings are recognised by their style
 * through word/styles.xml: the style's own outline level (0..5 give levels
 * 1..6, 9 body text) or name ("heading 1".."heading 6", "Title": level 1),
 * else those of the style it is based on (a chain of at most 16, so cycles
 * end), else the built-in ids Heading1..Heading6 and Title; an outline level
 * set on the paragraph itself wins over its style's. Custom and localised
 * styles ("Kapitel", "berschrift1") thus count. <w:tab/> is a tab, <w:br/>
 * and <w:cr/> line breaks; a table is one block with one line per row and
 * the cells separated by " | ". Deleted text (tracked changes), field
 * instructions and the fallback copy of alternate content are left out;
 * text boxes join their paragraph.
 *
 * After the body come, each under a heading of level 1 when it has text:
 * "Footnotes" and "Endnotes" (one paragraph each, "[N] text"; separators
 * left out), "Comments" ("Author: text"), and "Headers and footers" (each
 * distinct paragraph once: the same footer repeats in every section).
 * Footnotes are not put where they are referenced: a note in the middle of
 * a sentence would cut it for search and quotes. A document that declares
 * no title and has no heading in its body takes the first line of its body
 * as title, not "Footnotes". */
#include "ingest/ooxml.h"
#include "base/mem.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char W_NS[] = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
static const char W_NS_STRICT[] = "http://purl.oclc.org/ooxml/wordprocessingml/main";
static const char MC_NS[] = "http://schemas.openxmlformats.org/markup-compatibility/2006";

static int ns_is(xmlNodePtr n, const char *href)
{
    return n->ns && n->ns->href && !strcmp((const char *)n->ns->href, href);
}

/* Element <w:NAME> (transitional or strict namespace)? */
static int is_w(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name) &&
           (ns_is(n, W_NS) || ns_is(n, W_NS_STRICT));
}

/* The value of attribute w:val (any namespace), or NULL. */
static const char *val_attr(xmlNodePtr n)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next)
        if (a->name && !strcmp((const char *)a->name, "val") && a->children &&
            a->children->type == XML_TEXT_NODE)
            return (const char *)a->children->content;
    return NULL;
}

/* ---- paragraph styles (word/styles.xml) ------------------------------------ */

typedef struct style {
    char *id, *based_on;
    int own; /* -1: says nothing; 0: body text; 1..6: heading level */
} style;

typedef struct styles {
    style *v;
    size_t n;
} styles;

/* Level from an outline level value: "0".."5" give 1..6, "6".."9" body. */
static int outline_level(const char *v)
{
    if (!v || v[0] < '0' || v[0] > '9' || v[1]) return -1;
    return v[0] <= '5' ? v[0] - '0' + 1 : 0;
}

/* "heading 3" / "Heading3" -> 3, "Title" -> 1, else -1 */
static int level_of_name(const char *v)
{
    if (!v) return -1;
    if (!strcasecmp(v, "Title")) return 1;
    if (strncasecmp(v, "heading", 7)) return -1;
    v += 7;
    if (*v == ' ') v++;
    if (v[0] >= '1' && v[0] <= '6' && !v[1]) return v[0] - '0';
    return -1;
}

static void styles_read(ooxml *z, styles *st)
{
    xmlDocPtr doc = NULL;
    rag_err ignored = {0};
    memset(st, 0, sizeof *st);
    /* styles.xml only refines headings: its absence or flaws are not fatal */
    if (ooxml_parse(z, "word/styles.xml", &doc, &ignored) != 0 || !doc) return;
    size_t cap = 0;
    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c; c = c->next) {
        if (!is_w(c, "style")) continue;
        const char *type = ooxml_attr(c, "type"), *id = ooxml_attr(c, "styleId");
        if (!id || (type && strcmp(type, "paragraph"))) continue;
        style s = {.id = rag_xstrdup(id), .own = -1};
        int by_name = -1, by_outline = -1;
        for (xmlNodePtr q = c->children; q; q = q->next) {
            if (is_w(q, "name")) {
                by_name = level_of_name(val_attr(q));
            } else if (is_w(q, "basedOn") && val_attr(q) && !s.based_on) {
                s.based_on = rag_xstrdup(val_attr(q));
            } else if (is_w(q, "pPr")) {
                for (xmlNodePtr r = q->children; r; r = r->next)
                    if (is_w(r, "outlineLvl")) by_outline = outline_level(val_attr(r));
            }
        }
        s.own = by_outline >= 0 ? by_outline : by_name;
        if (st->n == cap) {
            cap = cap ? 2 * cap : 32;
            st->v = rag_xrealloc(st->v, cap * sizeof *st->v);
        }
        st->v[st->n++] = s;
    }
    xmlFreeDoc(doc);
}

static void styles_free(styles *st)
{
    for (size_t i = 0; i < st->n; i++) {
        rag_free(st->v[i].id);
        rag_free(st->v[i].based_on);
    }
    rag_free(st->v);
}

/* The heading level of paragraph style `id`: its own outline level or
 * heading name, else that of the style it is based on (a bounded chain,
 * so a cycle ends), else the built-in ids HeadingN and Title. */
static int style_level(const styles *st, const char *id)
{
    for (int depth = 0; id && depth < 16; depth++) {
        const style *s = NULL;
        for (size_t i = 0; i < st->n && !s; i++)
            if (!strcmp(st->v[i].id, id)) s = &st->v[i];
        if (!s) break;
        if (s->own >= 0) return s->own;
        id = s->based_on;
    }
    int l = level_of_name(id);
    return l > 0 ? l : 0;
}

/* Heading level from a paragraph's <w:pPr>, 0 for body text: an outline
 * level set on the paragraph wins over its style's. */
static int paragraph_level(const styles *st, xmlNodePtr p)
{
    for (xmlNodePtr c = p->children; c; c = c->next) {
        if (!is_w(c, "pPr")) continue;
        const char *style_id = NULL;
        for (xmlNodePtr q = c->children; q; q = q->next) {
            if (is_w(q, "pStyle")) {
                style_id = val_attr(q);
            } else if (is_w(q, "outlineLvl")) {
                int l = outline_level(val_attr(q));
                if (l >= 0) return l;
            }
        }
        return style_id ? style_level(st, style_id) : 0;
    }
    return 0;
}

typedef struct walker {
    ing_text *out;
    const styles *st;
    const ing_limits *lim;
    rag_buf cur;
    int para_depth; /* nested <w:p> (text boxes) */
    int para_level; /* heading level of the outermost paragraph */
    int table_depth;
    int row_cells;  /* cells so far in the current row of the outer table */
    int cell_paras; /* paragraphs so far in the current cell */
    int too_big;
} walker;

static int skipped(xmlNodePtr n)
{
    /* properties (which hold tab stops that are not tabs), deleted and
     * moved-away text, and the duplicate fallback of alternate content */
    static const char *const w_skip[] = {"pPr",      "rPr",       "sectPr",  "tblPr",
                                         "trPr",     "tcPr",      "tblGrid", "del",
                                         "moveFrom", "instrText", "delText", "footnoteReference",
                                         NULL};
    if (n->type != XML_ELEMENT_NODE) return 1;
    for (const char *const *s = w_skip; *s; s++)
        if (is_w(n, *s)) return 1;
    return ns_is(n, MC_NS) && !strcmp((const char *)n->name, "Fallback");
}

static void enter(walker *w, xmlNodePtr n)
{
    if (is_w(n, "p")) {
        if (w->para_depth > 0) {
            rag_buf_putc(&w->cur, w->table_depth ? ' ' : '\n');
        } else if (w->table_depth > 0) {
            if (w->cell_paras++ > 0) rag_buf_putc(&w->cur, ' ');
        } else {
            rag_buf_clear(&w->cur);
            w->para_level = paragraph_level(w->st, n);
        }
        w->para_depth++;
    } else if (is_w(n, "t")) {
        for (xmlNodePtr c = n->children; c; c = c->next) /* text nodes only: never entities */
            if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
                rag_buf_puts(&w->cur, (const char *)c->content);
    } else if (is_w(n, "tab") || is_w(n, "ptab")) {
        rag_buf_putc(&w->cur, '\t');
    } else if (is_w(n, "br") || is_w(n, "cr")) {
        rag_buf_putc(&w->cur, w->table_depth ? ' ' : '\n');
    } else if (is_w(n, "noBreakHyphen")) {
        rag_buf_putc(&w->cur, '-');
    } else if (is_w(n, "tbl")) {
        if (w->table_depth == 0 && w->para_depth == 0)
            rag_buf_clear(&w->cur);
        else
            rag_buf_putc(&w->cur, ' ');
        w->table_depth++;
    } else if (is_w(n, "tr")) {
        if (w->table_depth == 1) {
            if (w->cur.len) rag_buf_putc(&w->cur, '\n');
            w->row_cells = 0;
        }
    } else if (is_w(n, "tc")) {
        if (w->table_depth == 1) {
            if (w->row_cells++ > 0) rag_buf_puts(&w->cur, " | ");
            w->cell_paras = 0;
        } else {
            rag_buf_putc(&w->cur, ' ');
        }
    }
    if (w->out->text.len + w->cur.len > w->lim->max_text) w->too_big = 1;
}

static void leave(walker *w, xmlNodePtr n)
{
    if (is_w(n, "p")) {
        w->para_depth--;
        if (w->para_depth == 0 && w->table_depth == 0) {
            ing_text_add(w->out, w->para_level ? ING_HEADING : ING_PARA, w->para_level,
                         rag_buf_str(&w->cur), w->cur.len);
            rag_buf_clear(&w->cur);
        }
    } else if (is_w(n, "tbl")) {
        w->table_depth--;
        if (w->table_depth == 0 && w->para_depth == 0) {
            ing_text_add(w->out, ING_PARA, 0, rag_buf_str(&w->cur), w->cur.len);
            rag_buf_clear(&w->cur);
        }
    }
}

static void walk(walker *w, xmlNodePtr root)
{
    xmlNodePtr n = root->children;
    while (n && !w->too_big) {
        int descend = 0;
        if (!skipped(n)) {
            enter(w, n);
            descend = n->children != NULL && !is_w(n, "t");
            if (!descend) leave(w, n);
        }
        if (descend) {
            n = n->children;
            continue;
        }
        while (n && n != root && !n->next) {
            n = n->parent;
            if (n && n != root) leave(w, n);
        }
        if (!n || n == root) break;
        n = n->next;
    }
}

/* ---- the parts beside the body ----------------------------------------------- */

/* The text of element `el` (a footnote, a comment) as one line: its
 * paragraphs joined by spaces, after `prefix`; empty when it has none. */
static void flat_text(const styles *st, const ing_limits *lim, xmlNodePtr el, const char *prefix,
                      rag_buf *b, int *too_big)
{
    ing_text tmp = {0};
    walker w = {.out = &tmp, .st = st, .lim = lim};
    walk(&w, el);
    rag_buf_free(&w.cur);
    if (w.too_big) *too_big = 1;
    rag_buf_clear(b);
    for (size_t i = 0; i < tmp.n_blocks; i++) {
        rag_buf_puts(b, i ? " " : prefix);
        rag_buf_append(b, tmp.text.data + tmp.blocks[i].start, tmp.blocks[i].len);
    }
    ing_text_free(&tmp);
}

/* The heading of a section of extras, added before its first block. */
typedef struct section {
    const char *heading;
    int added;
} section;

static void section_add(ing_text *out, section *s)
{
    if (s->added) return;
    ing_text_add(out, ING_HEADING, 1, s->heading, strlen(s->heading));
    s->added = 1;
}

/* Footnotes, endnotes (kind "footnote"/"endnote") or comments ("comment"):
 * one paragraph each, "[N] text" or "Author: text"; separators left out. */
static int read_notes(ooxml *z, const char *part, const char *kind, const styles *st, ing_text *out,
                      section *sec, int *too_big, rag_err *err)
{
    xmlDocPtr doc = NULL;
    int rc = ooxml_parse(z, part, &doc, err);
    if (rc == 1) return 0;
    if (rc) return rc;
    rag_buf line = {0};
    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c && !*too_big; c = c->next) {
        if (!is_w(c, kind)) continue;
        const char *type = ooxml_attr(c, "type");
        if (type && strcmp(type, "normal")) continue; /* separator, continuationSeparator */
        char prefix[160];
        const char *id = ooxml_attr(c, "id"), *author = ooxml_attr(c, "author");
        if (!strcmp(kind, "comment"))
            snprintf(prefix, sizeof prefix, "%.120s: ", author && *author ? author : "Comment");
        else
            snprintf(prefix, sizeof prefix, "[%.20s] ", id ? id : "?");
        flat_text(st, z->lim, c, prefix, &line, too_big);
        if (!line.len) continue;
        section_add(out, sec);
        ing_text_add(out, ING_PARA, 0, line.data, line.len);
        if (out->text.len > z->lim->max_text) *too_big = 1;
    }
    rag_buf_free(&line);
    xmlFreeDoc(doc);
    return 0;
}

/* Headers and footers: their paragraphs, each distinct one once (the same
 * footer usually repeats in every section). */
static int read_header_footer(ooxml *z, const char *part, const styles *st, ing_text *out,
                              section *sec, rag_strv *seen, int *too_big, rag_err *err)
{
    xmlDocPtr doc = NULL;
    int rc = ooxml_parse(z, part, &doc, err);
    if (rc == 1) return 0;
    if (rc) return rc;
    ing_text tmp = {0};
    walker w = {.out = &tmp, .st = st, .lim = z->lim};
    walk(&w, xmlDocGetRootElement(doc));
    rag_buf_free(&w.cur);
    if (w.too_big) *too_big = 1;
    for (size_t i = 0; i < tmp.n_blocks; i++) {
        char *s = rag_xstrndup(tmp.text.data + tmp.blocks[i].start, tmp.blocks[i].len);
        int dup = 0;
        for (size_t k = 0; k < seen->n && !dup; k++)
            dup = !strcmp(seen->v[k], s);
        if (dup) {
            rag_free(s);
            continue;
        }
        section_add(out, sec);
        ing_text_add(out, ING_PARA, 0, s, strlen(s));
        rag_strv_push(seen, s);
        rag_free(s);
    }
    ing_text_free(&tmp);
    xmlFreeDoc(doc);
    if (out->text.len > z->lim->max_text) *too_big = 1;
    return 0;
}

/* After the body, in this order and each under a heading of level 1:
 * Footnotes, Endnotes, Comments, Headers and footers (found through
 * word/_rels/document.xml.rels, else by their usual names). */
static int read_extras(ooxml *z, const styles *st, ing_text *out, rag_err *err)
{
    ooxml_rels rels;
    int rc = ooxml_rels_read(z, "word/document.xml", &rels, err);
    if (rc) return rc;
    int too_big = 0;
    static const struct {
        const char *type, *dflt, *kind, *heading;
    } notes[] = {{"footnotes", "word/footnotes.xml", "footnote", "Footnotes"},
                 {"endnotes", "word/endnotes.xml", "endnote", "Endnotes"},
                 {"comments", "word/comments.xml", "comment", "Comments"}};
    for (size_t i = 0; i < sizeof notes / sizeof notes[0] && !rc && !too_big; i++) {
        const char *part = ooxml_rels_by_type(&rels, notes[i].type);
        section sec = {.heading = notes[i].heading};
        rc =
            read_notes(z, part ? part : notes[i].dflt, notes[i].kind, st, out, &sec, &too_big, err);
    }
    section hf = {.heading = "Headers and footers"};
    rag_strv seen = {0};
    for (size_t i = 0; i < rels.n && !rc && !too_big; i++) {
        const char *t = rels.v[i].type;
        size_t tl = strlen(t);
        if ((tl > 7 && !strcmp(t + tl - 7, "/header")) ||
            (tl > 7 && !strcmp(t + tl - 7, "/footer")))
            rc = read_header_footer(z, rels.v[i].target, st, out, &hf, &seen, &too_big, err);
    }
    rag_strv_free(&seen);
    ooxml_rels_free(&rels);
    if (!rc && too_big)
        rc = rag_err_set(err, RAG_ERR_LIMIT, "%s: the text is larger than the limit of %zu bytes",
                         z->path, z->lim->max_text);
    return rc;
}

int ing_extract_docx(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err)
{
    const char *name = path ? path : "(input)";
    out->mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    ooxml z;
    int rc = ooxml_open(&z, "DOCX", path, data, n, lim, err);
    if (rc) return rc;
    styles st;
    styles_read(&z, &st);
    xmlDocPtr doc = NULL;
    rc = ooxml_parse(&z, "word/document.xml", &doc, err);
    if (rc == 1)
        rc = rag_err_set(err, RAG_ERR_FORMAT,
                         "%s: not a DOCX: the archive has no word/document.xml", name);
    if (!rc) {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        xmlNodePtr bodyel = NULL;
        for (xmlNodePtr c = root ? root->children : NULL; c && !bodyel; c = c->next)
            if (is_w(c, "body")) bodyel = c;
        if (!root || !is_w(root, "document") || !bodyel) {
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s: word/document.xml is not a WordprocessingML document "
                             "(no <w:document><w:body>)",
                             name);
        } else {
            walker w = {.out = out, .st = &st, .lim = lim};
            walk(&w, bodyel);
            rag_buf_free(&w.cur);
            if (w.too_big)
                rc = rag_err_set(err, RAG_ERR_LIMIT,
                                 "%s: the text is larger than the limit of %zu bytes", name,
                                 lim->max_text);
        }
    }
    if (doc) xmlFreeDoc(doc);
    if (!rc) ooxml_read_title(&z, out);
    size_t n_body = out->n_blocks;
    if (!rc) rc = read_extras(&z, &st, out, err);
    if (!rc && !out->title && out->n_blocks > n_body) {
        /* The extras come under headings of their own: a document that
         * declares no title and has no heading in its body takes the first
         * line of its body as title rather than "Footnotes". */
        int body_heading = 0;
        for (size_t i = 0; i < n_body && !body_heading; i++)
            body_heading = out->blocks[i].kind == ING_HEADING;
        if (!body_heading && n_body) {
            const char *s = out->text.data + out->blocks[0].start;
            const char *nl = memchr(s, '\n', out->blocks[0].len);
            ing_text_set_title(out, s, nl ? (size_t)(nl - s) : out->blocks[0].len);
            out->title_in_text = 1;
        }
    }
    styles_free(&st);
    ooxml_close(&z);
    return rc;
}
