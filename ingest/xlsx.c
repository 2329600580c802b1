/* ingest/xlsx.c: Excel workbooks (Office Open XML, .xlsx).
 *
 * Structure: a zip of XML parts (read through ooxml.c, under the same
 * unzipped-size and ratio limits as DOCX). The main part (named by
 * _rels/.rels, normally xl/workbook.xml) lists the sheets in tab order in
 * <sheets><sheet name="..." r:id="rId1"/>; each r:id leads through
 * xl/_rels/workbook.xml.rels to a worksheet part, whose <sheetData> holds
 * <row>s of cells <c r="B3" t="TYPE"><v>...</v></c>. TYPE "s": v indexes the
 * shared strings (xl/sharedStrings.xml: <si> with <t>, or rich runs
 * <r><t>, phonetic <rPh> left out); "inlineStr": the text is in <is>;
 * "str": a formula's string result; "b": a boolean (1/0); "e": an error
 * (#DIV/0!); "n" or none: a number; "d": an ISO date. A formula <f> is not
 * read: its cached value <v> is.
 *
 * Mapping: each sheet is a heading of level 1, its name; each non-empty row
 * one paragraph block. When the first non-empty row has at least two cells
 * and all of them are strings, it is a header row: it is not repeated, and
 * every later row reads "Header: value; Header: value" (a column with no
 * header is named by its letter, "C: value"). Otherwise a row's cells are
 * joined by " | ". Empty cells are left out. Numbers are written as the
 * file stores them (a date formatted cell is its serial number, 45292),
 * booleans as TRUE/FALSE. Chart sheets hold no cells and give only their
 * heading.
 *
 * Bounds: at most XLSX_MAX_ROWS rows per sheet and XLSX_MAX_CELLS cells in
 * the workbook are read; what lies beyond is left out, the document is
 * stored truncated, a warning is logged, and its metadata says so
 * ("truncated": "..."). The extracted text stays under lim->max_text like
 * every format (RAG_ERR_LIMIT beyond). A sheet part that the workbook names
 * but the archive lacks, or that is not well-formed XML, fails the document
 * with a message that names the part. */
#include "ingest/ooxml.h"
#include "base/log.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

#define XLSX_MAX_ROWS 100000
#define XLSX_MAX_CELLS 2000000

static const char *const S_NS[] = {"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                                   "http://purl.oclc.org/ooxml/spreadsheetml/main", NULL};

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (ooxml_is(c, S_NS, name)) return c;
    return NULL;
}

/* The text of an <si> or <is>: <t>, or the runs' <t>s. */
static void rich_text(rag_buf *b, xmlNodePtr si)
{
    for (xmlNodePtr c = si->children; c; c = c->next) {
        if (ooxml_is(c, S_NS, "t")) {
            ooxml_put_text(b, c);
        } else if (ooxml_is(c, S_NS, "r")) {
            xmlNodePtr t = child(c, "t");
            if (t) ooxml_put_text(b, t);
        }
    }
}

typedef struct book {
    ooxml *z;
    ing_text *out;
    rag_strv sst; /* shared strings */
    size_t cells; /* read so far, all sheets */
    rag_strv truncated;
    int too_big;
} book;

static int read_shared(book *bk, const char *part, rag_err *err)
{
    xmlDocPtr doc = NULL;
    int rc = ooxml_parse(bk->z, part, &doc, err);
    if (rc == 1) return 0;
    if (rc) return rc;
    rag_buf b = {0};
    for (xmlNodePtr si = xmlDocGetRootElement(doc)->children; si; si = si->next) {
        if (!ooxml_is(si, S_NS, "si")) continue;
        rag_buf_clear(&b);
        rich_text(&b, si);
        rag_strv_pushn(&bk->sst, rag_buf_str(&b), b.len);
    }
    rag_buf_free(&b);
    xmlFreeDoc(doc);
    return 0;
}

/* Column number (1-based) of a reference "AB12", or 0. */
static unsigned column_of(const char *ref)
{
    unsigned col = 0;
    for (; ref && *ref >= 'A' && *ref <= 'Z' && col < 100000; ref++)
        col = col * 26 + (unsigned)(*ref - 'A' + 1);
    return col;
}

static void column_name(unsigned col, char out[16])
{
    char tmp[16];
    int n = 0;
    while (col && n < 15) {
        tmp[n++] = (char)('A' + (col - 1) % 26);
        col = (col - 1) / 26;
    }
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

typedef struct cell {
    unsigned col;
    int is_string;
    char *text; /* owned, not empty */
} cell;

typedef struct row {
    cell *v;
    size_t n, cap;
} row;

static void row_clear(row *r)
{
    for (size_t i = 0; i < r->n; i++)
        rag_free(r->v[i].text);
    r->n = 0;
}

/* Reads the cells of a <row> into r (empty cells left out). */
static void read_row(book *bk, xmlNodePtr rowel, row *r)
{
    row_clear(r);
    unsigned col = 0;
    rag_buf b = {0};
    for (xmlNodePtr c = rowel->children; c; c = c->next) {
        if (!ooxml_is(c, S_NS, "c")) continue;
        unsigned at = column_of(ooxml_attr(c, "r"));
        col = at ? at : col + 1;
        const char *t = ooxml_attr(c, "t");
        if (!t) t = "n";
        rag_buf_clear(&b);
        xmlNodePtr v = child(c, "v");
        int is_string = 0;
        if (!strcmp(t, "inlineStr")) {
            xmlNodePtr is = child(c, "is");
            if (is) rich_text(&b, is);
            is_string = 1;
        } else if (v) {
            ooxml_put_text(&b, v);
            if (!strcmp(t, "s")) {
                char *end = NULL;
                unsigned long i = strtoul(rag_buf_str(&b), &end, 10);
                const char *s = end && end != rag_buf_str(&b) && i < bk->sst.n ? bk->sst.v[i] : "";
                rag_buf_clear(&b);
                rag_buf_puts(&b, s);
                is_string = 1;
            } else if (!strcmp(t, "str")) {
                is_string = 1;
            } else if (!strcmp(t, "b")) {
                int yes = !strcmp(rag_buf_str(&b), "1") || !strcmp(rag_buf_str(&b), "true");
                rag_buf_clear(&b);
                rag_buf_puts(&b, yes ? "TRUE" : "FALSE");
            }
        }
        /* blank after trimming: an empty cell */
        size_t k = 0;
        while (k < b.len &&
               (b.data[k] == ' ' || b.data[k] == '\t' || b.data[k] == '\n' || b.data[k] == '\r'))
            k++;
        if (k == b.len) continue;
        if (r->n == r->cap) {
            r->cap = r->cap ? 2 * r->cap : 16;
            r->v = rag_xrealloc(r->v, r->cap * sizeof *r->v);
        }
        r->v[r->n++] = (cell){.col = col, .is_string = is_string, .text = rag_buf_steal(&b)};
        bk->cells++;
    }
    rag_buf_free(&b);
}

/* One line of a cell's text: line breaks inside it become spaces. */
static void put_cell(rag_buf *b, const char *s)
{
    for (; *s; s++)
        rag_buf_putc(b, *s == '\n' || *s == '\r' ? ' ' : *s);
}

static int add_sheet(book *bk, const char *name, const char *part, rag_err *err)
{
    xmlDocPtr doc = NULL;
    int rc = ooxml_parse(bk->z, part, &doc, err);
    if (rc == 1)
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: corrupt XLSX: sheet '%s' (%s) is missing from the archive",
                           bk->z->path, name, part);
    if (rc) return rc;
    ing_text_add(bk->out, ING_HEADING, 1, name, strlen(name));
    xmlNodePtr data = child(xmlDocGetRootElement(doc), "sheetData");
    row r = {0}, header = {0};
    int have_first = 0, use_header = 0;
    size_t rows = 0;
    rag_buf line = {0};
    for (xmlNodePtr re = data ? data->children : NULL; re && !bk->too_big; re = re->next) {
        if (!ooxml_is(re, S_NS, "row")) continue;
        if (rows >= XLSX_MAX_ROWS || bk->cells >= XLSX_MAX_CELLS) {
            rag_strv_pushf(&bk->truncated,
                           "sheet '%s' after %zu rows (at most %d per sheet, %d cells in all)",
                           name, rows, XLSX_MAX_ROWS, XLSX_MAX_CELLS);
            break;
        }
        read_row(bk, re, &r);
        if (!r.n) continue;
        rows++;
        if (!have_first) {
            have_first = 1;
            int all_strings = r.n >= 2;
            for (size_t i = 0; i < r.n && all_strings; i++)
                all_strings = r.v[i].is_string;
            if (all_strings) { /* keep it as the header */
                use_header = 1;
                row tmp = header;
                header = r;
                r = tmp;
                continue;
            }
        }
        rag_buf_clear(&line);
        for (size_t i = 0; i < r.n; i++) {
            if (use_header) {
                const char *h = NULL;
                for (size_t k = 0; k < header.n && !h; k++)
                    if (header.v[k].col == r.v[i].col) h = header.v[k].text;
                char letters[16];
                if (!h) {
                    column_name(r.v[i].col, letters);
                    h = letters;
                }
                if (i) rag_buf_puts(&line, "; ");
                put_cell(&line, h);
                rag_buf_puts(&line, ": ");
            } else if (i) {
                rag_buf_puts(&line, " | ");
            }
            put_cell(&line, r.v[i].text);
        }
        ing_text_add(bk->out, ING_PARA, 0, rag_buf_str(&line), line.len);
        if (bk->out->text.len > bk->z->lim->max_text) bk->too_big = 1;
    }
    if (use_header && rows == 1) { /* a header row alone is all the sheet says */
        rag_buf_clear(&line);
        for (size_t i = 0; i < header.n; i++) {
            if (i) rag_buf_puts(&line, " | ");
            put_cell(&line, header.v[i].text);
        }
        ing_text_add(bk->out, ING_PARA, 0, rag_buf_str(&line), line.len);
    }
    rag_buf_free(&line);
    row_clear(&r);
    row_clear(&header);
    rag_free(r.v);
    rag_free(header.v);
    xmlFreeDoc(doc);
    return 0;
}

int ing_extract_xlsx(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err)
{
    out->mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    ooxml z;
    int rc = ooxml_open(&z, "XLSX", path, data, n, lim, err);
    if (rc) return rc;
    ooxml_read_title(&z, out);
    char *main = ooxml_main_part(&z, "xl/workbook.xml");
    xmlDocPtr doc = NULL;
    ooxml_rels rels = {0};
    book bk = {.z = &z, .out = out};
    rc = ooxml_parse(&z, main, &doc, err);
    if (rc == 1)
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: not an XLSX: the archive has no %s", z.path,
                         main);
    if (!rc) rc = ooxml_rels_read(&z, main, &rels, err);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!rc && !ooxml_is(root, S_NS, "workbook"))
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s is not a SpreadsheetML workbook", z.path,
                         main);
    if (!rc) {
        const char *sst = ooxml_rels_by_type(&rels, "sharedStrings");
        rc = read_shared(&bk, sst ? sst : "xl/sharedStrings.xml", err);
    }
    xmlNodePtr sheets = rc ? NULL : child(root, "sheets");
    int num = 0;
    for (xmlNodePtr s = sheets ? sheets->children : NULL; s && !rc && !bk.too_big; s = s->next) {
        if (!ooxml_is(s, S_NS, "sheet")) continue;
        num++;
        const char *name = ooxml_attr(s, "name");
        char dflt[32];
        if (!name || !*name) {
            snprintf(dflt, sizeof dflt, "Sheet %d", num);
            name = dflt;
        }
        const char *rid = ooxml_rid(s, "id");
        const char *part = ooxml_rels_target(&rels, rid);
        if (!part)
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s: corrupt XLSX: sheet '%s' of %s (r:id %s) has no relationship",
                             z.path, name, main, rid ? rid : "missing");
        else
            rc = add_sheet(&bk, name, part, err);
    }
    if (!rc && bk.too_big)
        rc = rag_err_set(err, RAG_ERR_LIMIT, "%s: the text is larger than the limit of %zu bytes",
                         z.path, lim->max_text);
    if (!rc && bk.truncated.n) {
        rag_buf m = {0};
        for (size_t i = 0; i < bk.truncated.n; i++) {
            if (i) rag_buf_puts(&m, "; ");
            rag_buf_puts(&m, bk.truncated.v[i]);
        }
        rag_log_warn("%s: truncated: %s", z.path, rag_buf_str(&m));
        ing_meta_str(out, "truncated", rag_buf_str(&m));
        rag_buf_free(&m);
    }
    rag_strv_free(&bk.sst);
    rag_strv_free(&bk.truncated);
    ooxml_rels_free(&rels);
    if (doc) xmlFreeDoc(doc);
    rag_free(main);
    ooxml_close(&z);
    return rc;
}
