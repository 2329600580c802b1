/* ingest/odf.c: OpenDocument text, spreadsheets and presentations (.odt,
 * .ods, .odp), as LibreOffice and others write them.
 *
 * Structure: a zip (read with libzip through odfzip.c, with docx.c's limits
 * on inflated size and ratio) whose first member `mimetype` names the kind,
 * holding XML parts. Two are read:
 *   content.xml  <office:document-content><office:body> holding one of
 *                <office:text>, <office:spreadsheet>, <office:presentation>;
 *                the element found decides how the body is read, whatever
 *                the file is named.
 *   meta.xml     <dc:title> is the title, <dc:creator> (else
 *                <meta:initial-creator>) the "author" metadata; optional,
 *                its flaws are ignored.
 *
 * Text documents: <text:h text:outline-level="N"> is a heading of level N
 * (1 when absent, 6 at most), <text:p> a paragraph; inline <text:s text:c>,
 * <text:tab>, <text:line-break> become spaces, tabs and line breaks; spans,
 * links, fields and text boxes inside a paragraph join it. A list
 * (<text:list>, nested or not) is one block with one "- item" line per
 * paragraph; a heading inside a list ends that block. A table is one block,
 * one line per row, cells joined by " | ". Footnotes and endnotes
 * (<text:note>) leave their citation ("[1]") in the text and their body in a
 * paragraph "[1] body" after the paragraph (or list, or table) that cites
 * them. Left out: comments (<office:annotation>), tracked deletions,
 * tables of contents (their lines repeat the headings), declarations and
 * forms.
 *
 * Spreadsheets: each <table:table> gives a heading (its table:name, else
 * "Sheet N") and one block per non-empty row. When the first row is a
 * header row (inside <table:table-header-rows>, or: at least two cells, all
 * of them text and none empty, and more rows follow), each later row reads
 * "Header: value; Header: value" (empty values left out); otherwise the
 * cells are joined by " | ". table:number-columns-repeated and
 * table:number-rows-repeated are honoured without expanding empty cells or
 * rows (a sheet ends in a million empty repeated rows as a rule): empty
 * cells count only when a non-empty cell follows in the row, and at most
 * 1024 columns and 10000 copies of a repeated row are read.
 *
 * Presentations: each <draw:page> gives a level-1 heading "Slide N: T",
 * T the text of its title frame (presentation:class="title"), else the
 * page's draw:name unless it is a generated "pageN"; then the text of its
 * frames and shapes in document order (read like a text document), then
 * its speaker notes (<presentation:notes>) as a paragraph "Notes: ...". */
#include "ingest/ing_int.h"
#include "ingest/odfzip.h"
#include "base/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char OFFICE_NS[] = "urn:oasis:names:tc:opendocument:xmlns:office:1.0";
static const char TEXT_NS[] = "urn:oasis:names:tc:opendocument:xmlns:text:1.0";
static const char TABLE_NS[] = "urn:oasis:names:tc:opendocument:xmlns:table:1.0";
static const char DRAW_NS[] = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0";
static const char PRES_NS[] = "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0";
static const char SVG_NS[] = "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0";
static const char META_NS[] = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0";
static const char DC_NS[] = "http://purl.org/dc/elements/1.1/";

#define MAX_COLS 1024
#define MAX_ROW_REPEAT 10000
#define MAX_SPACES 64 /* <text:s text:c="N">: more is layout, not text */

typedef struct ow {
    ing_text *out;
    const ing_limits *lim;
    rag_buf notes; /* "[c] body" lines of notes cited since the last flush */
    rag_buf list;  /* lines of the list being read */
    int list_depth;
    int table_depth; /* inside a table's cells: notes wait for the table's end */
    int slide;       /* a presentation page: title frames and notes are read apart */
    int too_big;
} ow;

static void check_size(ow *w, size_t pending)
{
    if (w->out->text.len + pending > w->lim->max_text) w->too_big = 1;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i])) return 0;
    return 1;
}

static void emit(ow *w, ing_block_kind kind, int level, const rag_buf *b)
{
    if (w->too_big || blank(rag_buf_str(b), b->len)) return;
    ing_text_add(w->out, kind, level, rag_buf_str(b), b->len);
    check_size(w, 0);
}

static void flush_notes(ow *w)
{
    if (w->list_depth || w->table_depth) return;
    emit(w, ING_PARA, 0, &w->notes);
    rag_buf_clear(&w->notes);
}

static void flush_list(ow *w)
{
    emit(w, ING_PARA, 0, &w->list);
    rag_buf_clear(&w->list);
}

/* Parses a non-negative count attribute (1 when absent or malformed). */
static unsigned long count_attr(xmlNodePtr n, const char *ns, const char *name, unsigned long max)
{
    const char *v = ozip_attr(n, ns, name);
    if (!v) return 1;
    char *end;
    unsigned long c = strtoul(v, &end, 10);
    if (end == v || c == 0) return 1;
    return c > max ? max : c;
}

/* Elements whose text is never read. */
static int ignored(ow *w, xmlNodePtr n)
{
    if (n->type != XML_ELEMENT_NODE) return 1;
    if (ozip_is(n, OFFICE_NS, "annotation") || ozip_is(n, OFFICE_NS, "annotation-end") ||
        ozip_is(n, OFFICE_NS, "forms") || ozip_is(n, TEXT_NS, "tracked-changes") ||
        ozip_is(n, TEXT_NS, "table-of-content") || ozip_is(n, TEXT_NS, "sequence-decls") ||
        ozip_is(n, TEXT_NS, "variable-decls") || ozip_is(n, TEXT_NS, "user-field-decls") ||
        ozip_is(n, TEXT_NS, "dde-connection-decls") || ozip_is(n, SVG_NS, "title") ||
        ozip_is(n, SVG_NS, "desc") || ozip_is(n, DRAW_NS, "page-thumbnail") ||
        ozip_is(n, TABLE_NS, "named-expressions") || ozip_is(n, TABLE_NS, "database-ranges") ||
        ozip_is(n, PRES_NS, "notes"))
        return 1;
    if (w->slide && ozip_is(n, DRAW_NS, "frame")) {
        const char *cls = ozip_attr(n, PRES_NS, "class");
        if (cls && !strcmp(cls, "title")) return 1;
    }
    return 0;
}

static void inline_text(ow *w, xmlNodePtr n, rag_buf *b);

/* A note: its citation stays in the text, its body goes to w->notes. */
static void note(ow *w, xmlNodePtr n, rag_buf *b)
{
    rag_buf cit = {0}, body = {0};
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (ozip_is(c, TEXT_NS, "note-citation")) ozip_text(c, &cit);
        if (!ozip_is(c, TEXT_NS, "note-body")) continue;
        for (xmlNodePtr p = c->children; p; p = p->next) {
            if (p->type != XML_ELEMENT_NODE || ignored(w, p)) continue;
            if (body.len) rag_buf_putc(&body, ' ');
            inline_text(w, p, &body);
        }
    }
    if (cit.len) rag_buf_printf(b, "[%s]", rag_buf_str(&cit));
    if (!blank(rag_buf_str(&body), body.len)) {
        if (cit.len) rag_buf_printf(&w->notes, "[%s] ", rag_buf_str(&cit));
        rag_buf_append(&w->notes, body.data, body.len);
        rag_buf_putc(&w->notes, '\n');
    }
    rag_buf_free(&cit);
    rag_buf_free(&body);
}

/* Appends the inline content of n's children to b. */
static void inline_text(ow *w, xmlNodePtr n, rag_buf *b)
{
    for (xmlNodePtr c = n->children; c && !w->too_big; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            rag_buf_puts(b, (const char *)c->content);
            check_size(w, b->len);
            continue;
        }
        if (ignored(w, c)) continue;
        if (ozip_is(c, TEXT_NS, "s")) {
            for (unsigned long k = count_attr(c, TEXT_NS, "c", MAX_SPACES); k > 0; k--)
                rag_buf_putc(b, ' ');
        } else if (ozip_is(c, TEXT_NS, "tab")) {
            rag_buf_putc(b, '\t');
        } else if (ozip_is(c, TEXT_NS, "line-break")) {
            rag_buf_putc(b, '\n');
        } else if (ozip_is(c, TEXT_NS, "note")) {
            note(w, c, b);
        } else if (ozip_is(c, TEXT_NS, "p") || ozip_is(c, TEXT_NS, "h")) {
            /* a paragraph inside this one: a text box, a caption */
            if (b->len) rag_buf_putc(b, ' ');
            inline_text(w, c, b);
        } else {
            inline_text(w, c, b);
        }
    }
}

/* ---- tables and sheets ----------------------------------------------------- */

typedef struct row {
    rag_strv cells;
    int all_text; /* every cell non-empty, none typed as a number, date... */
} row;

static void cell_text(ow *w, xmlNodePtr cell, rag_buf *b)
{
    w->table_depth++;
    for (xmlNodePtr c = cell->children; c && !w->too_big; c = c->next) {
        if (ignored(w, c)) continue;
        if (ozip_is(c, TEXT_NS, "p") || ozip_is(c, TEXT_NS, "h")) {
            if (b->len) rag_buf_putc(b, ' ');
            inline_text(w, c, b);
        } else {
            cell_text(w, c, b); /* lists, nested tables, sections */
        }
    }
    w->table_depth--;
}

/* Reads the cells of one row: empty repeated cells are only counted, and
 * only materialised before a non-empty cell. */
static void read_row(ow *w, xmlNodePtr tr, row *r)
{
    unsigned long pending_empty = 0;
    r->all_text = 1;
    rag_buf b = {0};
    for (xmlNodePtr c = tr->children; c && !w->too_big; c = c->next) {
        if (!ozip_is(c, TABLE_NS, "table-cell") && !ozip_is(c, TABLE_NS, "covered-table-cell"))
            continue;
        unsigned long rep = count_attr(c, TABLE_NS, "number-columns-repeated", MAX_COLS);
        rag_buf_clear(&b);
        cell_text(w, c, &b);
        if (blank(rag_buf_str(&b), b.len)) {
            pending_empty += rep;
            r->all_text = 0;
            continue;
        }
        const char *vt = ozip_attr(c, OFFICE_NS, "value-type");
        if (vt && strcmp(vt, "string")) r->all_text = 0;
        for (; pending_empty > 0 && r->cells.n < MAX_COLS; pending_empty--)
            rag_strv_push(&r->cells, "");
        pending_empty = 0;
        for (; rep > 0 && r->cells.n < MAX_COLS; rep--)
            rag_strv_push(&r->cells, rag_buf_str(&b));
    }
    rag_buf_free(&b);
}

typedef struct sheet {
    ow *w;
    int spreadsheet; /* ODS: a block per row, header rows; else one block */
    const char *name;
    int heading_done;
    int first_row_done;
    row header;
    int has_header;
    xmlNodePtr first_header_row; /* the row inside table:table-header-rows */
    rag_buf block;               /* text tables: the lines so far */
} sheet;

static void join_row(const row *r, rag_buf *out)
{
    for (size_t i = 0; i < r->cells.n; i++) {
        if (i) rag_buf_puts(out, " | ");
        rag_buf_puts(out, r->cells.v[i]);
    }
}

static void row_out(sheet *s, const row *r, unsigned long rep)
{
    ow *w = s->w;
    rag_buf line = {0};
    if (s->has_header) {
        for (size_t i = 0; i < r->cells.n; i++) {
            if (!r->cells.v[i][0]) continue;
            if (line.len) rag_buf_puts(&line, "; ");
            const char *h = i < s->header.cells.n ? s->header.cells.v[i] : "";
            if (*h)
                rag_buf_printf(&line, "%s: %s", h, r->cells.v[i]);
            else
                rag_buf_puts(&line, r->cells.v[i]);
        }
    } else {
        join_row(r, &line);
    }
    if (s->spreadsheet && !s->heading_done) {
        rag_buf h = {0};
        rag_buf_puts(&h, s->name);
        emit(w, ING_HEADING, 1, &h);
        rag_buf_free(&h);
        s->heading_done = 1;
    }
    for (; rep > 0 && !w->too_big; rep--) {
        if (s->spreadsheet) {
            emit(w, ING_PARA, 0, &line);
        } else {
            rag_buf_append(&s->block, line.data ? line.data : "", line.len);
            rag_buf_putc(&s->block, '\n');
            check_size(w, s->block.len);
        }
    }
    rag_buf_free(&line);
}

static void rows(sheet *s, xmlNodePtr parent, int in_header_rows)
{
    ow *w = s->w;
    for (xmlNodePtr c = parent->children; c && !w->too_big; c = c->next) {
        if (ozip_is(c, TABLE_NS, "table-header-rows")) {
            rows(s, c, 1);
            continue;
        }
        if (ozip_is(c, TABLE_NS, "table-rows") || ozip_is(c, TABLE_NS, "table-row-group")) {
            rows(s, c, in_header_rows);
            continue;
        }
        if (!ozip_is(c, TABLE_NS, "table-row")) continue;
        unsigned long rep = count_attr(c, TABLE_NS, "number-rows-repeated", MAX_ROW_REPEAT);
        row r = {0};
        read_row(w, c, &r);
        if (r.cells.n > 0) {
            int is_first = !s->first_row_done;
            s->first_row_done = 1;
            if (is_first && s->spreadsheet) {
                /* a header row: marked as one, or looks like one (all text,
                 * and more rows follow) */
                int more = rep > 1;
                for (xmlNodePtr m = c->next; m && !more; m = m->next)
                    more = ozip_is(m, TABLE_NS, "table-row") ||
                           ozip_is(m, TABLE_NS, "table-rows") ||
                           ozip_is(m, TABLE_NS, "table-row-group");
                if (!more && in_header_rows) more = 1;
                if (more && r.cells.n >= 2 && (in_header_rows || r.all_text)) {
                    s->header = r;
                    s->has_header = 1;
                    if (rep > 1) row_out(s, &r, rep - 1); /* the copies are data */
                    continue;
                }
            }
            row_out(s, &r, rep);
        }
        rag_strv_free(&r.cells);
    }
}

static void table(ow *w, xmlNodePtr t, int spreadsheet, int index)
{
    char fallback[32];
    snprintf(fallback, sizeof fallback, "Sheet %d", index);
    const char *name = ozip_attr(t, TABLE_NS, "name");
    sheet s = {.w = w, .spreadsheet = spreadsheet, .name = name && *name ? name : fallback};
    w->table_depth++;
    rows(&s, t, 0);
    w->table_depth--;
    if (!spreadsheet) emit(w, ING_PARA, 0, &s.block);
    rag_buf_free(&s.block);
    rag_strv_free(&s.header.cells);
    flush_notes(w);
}

/* ---- text ------------------------------------------------------------------- */

static void paragraph(ow *w, xmlNodePtr p, int level)
{
    rag_buf b = {0};
    inline_text(w, p, &b);
    if (w->list_depth > 0 && !level) {
        if (!blank(rag_buf_str(&b), b.len)) {
            rag_buf_puts(&w->list, "- ");
            rag_buf_append(&w->list, b.data, b.len);
            rag_buf_putc(&w->list, '\n');
            check_size(w, w->list.len);
        }
    } else {
        flush_list(w);
        emit(w, level ? ING_HEADING : ING_PARA, level, &b);
    }
    rag_buf_free(&b);
    flush_notes(w);
}

static void blocks(ow *w, xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c && !w->too_big; c = c->next) {
        if (ignored(w, c)) continue;
        if (ozip_is(c, TEXT_NS, "h")) {
            unsigned long lv = count_attr(c, TEXT_NS, "outline-level", 10);
            paragraph(w, c, lv > 6 ? 6 : (int)lv);
        } else if (ozip_is(c, TEXT_NS, "p")) {
            paragraph(w, c, 0);
        } else if (ozip_is(c, TEXT_NS, "list")) {
            w->list_depth++;
            blocks(w, c);
            w->list_depth--;
            if (!w->list_depth) {
                flush_list(w);
                flush_notes(w);
            }
        } else if (ozip_is(c, TABLE_NS, "table")) {
            flush_list(w);
            int saved = w->list_depth;
            w->list_depth = 0;
            table(w, c, 0, 0);
            w->list_depth = saved;
        } else {
            blocks(w, c);
        }
    }
}

/* ---- spreadsheets and presentations ----------------------------------------- */

static void spreadsheet(ow *w, xmlNodePtr body)
{
    int index = 0;
    for (xmlNodePtr c = body->children; c && !w->too_big; c = c->next)
        if (ozip_is(c, TABLE_NS, "table")) table(w, c, 1, ++index);
}

/* The text of the page's title frame (searched through groups). */
static xmlNodePtr title_frame(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (ozip_is(c, DRAW_NS, "frame")) {
            const char *cls = ozip_attr(c, PRES_NS, "class");
            if (cls && !strcmp(cls, "title")) return c;
        } else if (ozip_is(c, DRAW_NS, "g")) {
            xmlNodePtr t = title_frame(c);
            if (t) return t;
        }
    }
    return NULL;
}

static int generated_page_name(const char *s)
{
    if (strncmp(s, "page", 4) || !s[4]) return 0;
    for (s += 4; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static void presentation(ow *w, xmlNodePtr body)
{
    int index = 0;
    for (xmlNodePtr pg = body->children; pg && !w->too_big; pg = pg->next) {
        if (!ozip_is(pg, DRAW_NS, "page")) continue;
        index++;
        rag_buf t = {0}, h = {0};
        xmlNodePtr tf = title_frame(pg);
        if (tf) cell_text(w, tf, &t);
        const char *name = ozip_attr(pg, DRAW_NS, "name");
        rag_buf_printf(&h, "Slide %d", index);
        if (!blank(rag_buf_str(&t), t.len))
            rag_buf_printf(&h, ": %s", rag_buf_str(&t));
        else if (name && *name && !generated_page_name(name))
            rag_buf_printf(&h, ": %s", name);
        emit(w, ING_HEADING, 1, &h);
        w->slide = 1;
        blocks(w, pg);
        flush_list(w);
        flush_notes(w);
        w->slide = 0;
        for (xmlNodePtr c = pg->children; c; c = c->next) {
            if (!ozip_is(c, PRES_NS, "notes")) continue;
            rag_buf nb = {0};
            cell_text(w, c, &nb);
            if (!blank(rag_buf_str(&nb), nb.len)) {
                rag_buf_clear(&h);
                rag_buf_printf(&h, "Notes: %s", rag_buf_str(&nb));
                emit(w, ING_PARA, 0, &h);
            }
            rag_buf_free(&nb);
        }
        flush_notes(w);
        rag_buf_free(&t);
        rag_buf_free(&h);
    }
}

/* ---- meta.xml --------------------------------------------------------------- */

static void read_meta(ozip *z, ing_text *out)
{
    xmlDocPtr doc = NULL;
    rag_err ignored_err = {0};
    if (ozip_xml(z, "meta.xml", &doc, &ignored_err) != 0 || !doc) return;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    rag_buf creator = {0}, initial = {0};
    for (xmlNodePtr m = root->children; m; m = m->next) {
        if (!ozip_is(m, OFFICE_NS, "meta")) continue;
        for (xmlNodePtr c = m->children; c; c = c->next) {
            if (ozip_is(c, DC_NS, "title") && !out->title) {
                rag_buf t = {0};
                ozip_text(c, &t);
                if (!blank(rag_buf_str(&t), t.len)) {
                    ing_text_set_title(out, t.data, t.len);
                    out->title_in_text = 0;
                }
                rag_buf_free(&t);
            } else if (ozip_is(c, DC_NS, "creator") && !creator.len) {
                ozip_text(c, &creator);
            } else if (ozip_is(c, META_NS, "initial-creator") && !initial.len) {
                ozip_text(c, &initial);
            }
        }
    }
    rag_buf *a = !blank(rag_buf_str(&creator), creator.len) ? &creator : &initial;
    if (!blank(rag_buf_str(a), a->len)) {
        ing_text tmp = {0}; /* normalise to one line */
        ing_text_set_title(&tmp, a->data, a->len);
        if (tmp.title) ing_meta_str(out, "author", tmp.title);
        ing_text_free(&tmp);
    }
    rag_buf_free(&creator);
    rag_buf_free(&initial);
    xmlFreeDoc(doc);
}

int ing_extract_odf(ing_type type, const char *path, const uint8_t *data, size_t n,
                    const ing_limits *lim, ing_text *out, rag_err *err)
{
    const char *kind = type == ING_TYPE_ODS ? "ODS" : type == ING_TYPE_ODP ? "ODP" : "ODT";
    out->mime = type == ING_TYPE_ODS   ? "application/vnd.oasis.opendocument.spreadsheet"
                : type == ING_TYPE_ODP ? "application/vnd.oasis.opendocument.presentation"
                                       : "application/vnd.oasis.opendocument.text";
    ozip z;
    int rc = ozip_open(&z, path, kind, data, n, lim, err);
    if (rc) return rc;
    xmlDocPtr doc = NULL;
    rc = ozip_xml(&z, "content.xml", &doc, err);
    if (rc == 1)
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: not an %s: the archive has no content.xml",
                         z.path, kind);
    xmlNodePtr body = NULL;
    if (!rc) {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        if (ozip_is(root, OFFICE_NS, "document-content"))
            for (xmlNodePtr c = root->children; c && !body; c = c->next)
                if (ozip_is(c, OFFICE_NS, "body")) body = c;
        xmlNodePtr kindel = NULL;
        for (xmlNodePtr c = body ? body->children : NULL; c && !kindel; c = c->next)
            if (ozip_is(c, OFFICE_NS, "text") || ozip_is(c, OFFICE_NS, "spreadsheet") ||
                ozip_is(c, OFFICE_NS, "presentation"))
                kindel = c;
        if (!kindel) {
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s: content.xml is not an OpenDocument body (no "
                             "<office:document-content><office:body> with text, spreadsheet "
                             "or presentation)",
                             z.path);
        } else {
            ow w = {.out = out, .lim = lim};
            if (ozip_is(kindel, OFFICE_NS, "spreadsheet")) {
                out->mime = "application/vnd.oasis.opendocument.spreadsheet";
                spreadsheet(&w, kindel);
            } else if (ozip_is(kindel, OFFICE_NS, "presentation")) {
                out->mime = "application/vnd.oasis.opendocument.presentation";
                presentation(&w, kindel);
            } else {
                out->mime = "application/vnd.oasis.opendocument.text";
                blocks(&w, kindel);
                flush_list(&w);
                flush_notes(&w);
            }
            rag_buf_free(&w.notes);
            rag_buf_free(&w.list);
            if (w.too_big)
                rc = rag_err_set(err, RAG_ERR_LIMIT,
                                 "%s: the text is larger than the limit of %zu bytes", z.path,
                                 lim->max_text);
        }
    }
    if (doc) xmlFreeDoc(doc);
    if (!rc) read_meta(&z, out);
    ozip_close(&z);
    return rc;
}
