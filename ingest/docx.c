/* ingest/docx.c: Word documents (Office Open XML, .docx).
 *
 * Structure: a zip archive (read with libzip straight from the buffer) of
 * XML parts. Two are read:
 *   word/document.xml   the body: <w:document><w:body> holding paragraphs
 *                       <w:p> and tables <w:tbl>/<w:tr>/<w:tc>, which hold
 *                       paragraphs again. A paragraph's style is in
 *                       <w:pPr><w:pStyle w:val="Heading1"/>; its text is in
 *                       runs <w:r> as <w:t>, with <w:tab/>, <w:br/>, <w:cr/>.
 *                       Runs may sit inside <w:hyperlink>, <w:ins>,
 *                       <w:smartTag>, <w:sdt> content controls...
 *   docProps/core.xml   metadata; <dc:title> is the title when present.
 *
 * Zip members are untrusted: sizes stored in the archive are only used to
 * fail early; what counts is what inflating actually produces. A member that
 * inflates to more than its header declares is corrupt (or a bomb in
 * disguise) and stops there. Otherwise reading stops
 * with RAG_ERR_LIMIT once a member has expanded more than lim->max_zip_ratio
 * times its compressed size (beyond 1 MiB), or once all members read
 * together exceed lim->max_unzipped. The XML is parsed without network
 * access, DTD loading, entity substitution or XML_PARSE_HUGE (libxml2's
 * default size and depth limits apply), and a part that declares a DTD is
 * refused: OOXML forbids DTDs, and entity tricks need one.
 *
 * Mapping: a paragraph is a block; Heading1..Heading6 styles (or an outline
 * level 0..5) give ING_HEADING of that level, the "Title" style level 1;
 * <w:tab/> is a tab, <w:br/> and <w:cr/> line breaks; a table is one block
 * with one line per row and the cells separated by " | ". Deleted text
 * (tracked changes), field instructions and the fallback copy of
 * alternate content are left out; text boxes join their paragraph. Only
 * the main body is read: headers, footers, footnotes and comments live in
 * parts of their own and are not extracted. Heading styles are recognised
 * by their style id, so a custom or localised id that is not HeadingN
 * counts as body text unless the paragraph carries an outline level. */
#include "ingest/ing_int.h"
#include "base/mem.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#define READ_CHUNK 65536
#define RATIO_FLOOR ((zip_uint64_t)1 << 20) /* small members may compress well */

static const char W_NS[] = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
static const char W_NS_STRICT[] = "http://purl.oclc.org/ooxml/wordprocessingml/main";
static const char DC_NS[] = "http://purl.org/dc/elements/1.1/";
static const char MC_NS[] = "http://schemas.openxmlformats.org/markup-compatibility/2006";

/* ---- zip members ---------------------------------------------------------- */

typedef struct docx {
    const char *path;
    const ing_limits *lim;
    zip_t *za;
    zip_uint64_t total; /* bytes inflated so far, all members */
} docx;

static int ratio_error(docx *d, const char *member, rag_err *err)
{
    return rag_err_set(err, RAG_ERR_LIMIT, "%s: %s expands more than %ux (zip bomb?)", d->path,
                       member, d->lim->max_zip_ratio);
}

static int total_error(docx *d, rag_err *err)
{
    return rag_err_set(err, RAG_ERR_LIMIT,
                       "%s: the DOCX expands to more than %zu bytes (uncompressed limit)", d->path,
                       d->lim->max_unzipped);
}

/* Reads a whole member into out. Returns 0, 1 when the member is absent,
 * or an error. */
static int read_member(docx *d, const char *member, rag_buf *out, rag_err *err)
{
    zip_int64_t idx = zip_name_locate(d->za, member, 0);
    if (idx < 0) return 1;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(d->za, (zip_uint64_t)idx, 0, &st) < 0)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt DOCX: %s: %s", d->path, member,
                           zip_strerror(d->za));
    zip_uint64_t comp = (st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size ? st.comp_size : 1;
    /* The stored sizes let an honest bomb fail before any inflating. */
    if (st.valid & ZIP_STAT_SIZE) {
        if (st.size > RATIO_FLOOR && st.size / comp > d->lim->max_zip_ratio)
            return ratio_error(d, member, err);
        if (d->total > d->lim->max_unzipped || st.size > d->lim->max_unzipped - d->total)
            return total_error(d, err);
    }
    zip_file_t *f = zip_fopen_index(d->za, (zip_uint64_t)idx, 0);
    if (!f)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt DOCX: %s: %s", d->path, member,
                           zip_strerror(d->za));
    zip_uint64_t got = 0;
    int rc = 0;
    for (;;) {
        rag_buf_reserve(out, READ_CHUNK);
        zip_int64_t r = zip_fread(f, out->data + out->len, READ_CHUNK);
        if (r < 0) {
            rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt DOCX: %s: %s", d->path, member,
                             zip_file_strerror(f));
            break;
        }
        if (r == 0) break;
        out->len += (size_t)r;
        out->data[out->len] = 0;
        got += (zip_uint64_t)r;
        d->total += (zip_uint64_t)r;
        if ((st.valid & ZIP_STAT_SIZE) && got > st.size) { /* the header lied */
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s: corrupt DOCX: %s inflates to more than the %llu bytes its "
                             "zip header declares",
                             d->path, member, (unsigned long long)st.size);
            break;
        }
        if (d->total > d->lim->max_unzipped) {
            rc = total_error(d, err);
            break;
        }
        if (got > RATIO_FLOOR && got / comp > d->lim->max_zip_ratio) {
            rc = ratio_error(d, member, err);
            break;
        }
    }
    zip_fclose(f);
    return rc;
}

/* ---- XML ------------------------------------------------------------------ */

/* The first error of a parse: later ones are mostly consequences of it
 * ("premature end of data" after a mismatched tag). */
typedef struct first_error {
    int line;
    char msg[160];
} first_error;

static void keep_first_error(void *ctx, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = ctx;
    first_error *fe = ctxt ? ctxt->_private : NULL;
    if (!fe || fe->msg[0] || !e || e->level < XML_ERR_ERROR) return;
    fe->line = e->line;
    snprintf(fe->msg, sizeof fe->msg, "%s", e->message ? e->message : "not well-formed");
    size_t l = strlen(fe->msg);
    while (l && (fe->msg[l - 1] == '\n' || fe->msg[l - 1] == ' '))
        fe->msg[--l] = 0;
}

/* Parses a member; on failure the message names the member and line. */
static int parse_xml(docx *d, const char *member, const rag_buf *b, xmlDocPtr *out, rag_err *err)
{
    *out = NULL;
    if (b->len > INT_MAX) return total_error(d, err);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) return rag_err_set(err, RAG_ERR_NOMEM, "%s: cannot create an XML parser", d->path);
    first_error fe = {0};
    ctxt->_private = &fe;
    ctxt->sax->serror = keep_first_error; /* called with ctxt->userData == ctxt */
    /* No XML_PARSE_NOENT (no entity substitution), no DTDLOAD, no HUGE. */
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, rag_buf_str(b), (int)b->len, member, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc = 0;
    if (!doc) {
        if (!fe.msg[0]) { /* not reported through the handler: take the last */
            const xmlError *e = xmlCtxtGetLastError(ctxt);
            keep_first_error(ctxt, (xmlErrorPtr)e);
        }
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s: malformed XML at line %d: %s", d->path,
                         member, fe.line, fe.msg[0] ? fe.msg : "not well-formed");
    } else if (doc->intSubset || doc->extSubset) {
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s declares a DTD, which DOCX does not allow",
                         d->path, member);
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    *out = doc;
    return rc;
}

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

/* Heading level from a paragraph's <w:pPr>, 0 for body text. */
static int paragraph_level(xmlNodePtr p)
{
    for (xmlNodePtr c = p->children; c; c = c->next) {
        if (!is_w(c, "pPr")) continue;
        for (xmlNodePtr q = c->children; q; q = q->next) {
            const char *v = NULL;
            if (is_w(q, "pStyle") && (v = val_attr(q))) {
                if (!strcasecmp(v, "Title")) return 1;
                if (!strncasecmp(v, "Heading", 7) && v[7] >= '1' && v[7] <= '6' && !v[8])
                    return v[7] - '0';
            } else if (is_w(q, "outlineLvl") && (v = val_attr(q))) {
                if (v[0] >= '0' && v[0] <= '5' && !v[1]) return v[0] - '0' + 1;
            }
        }
    }
    return 0;
}

typedef struct walker {
    ing_text *out;
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
            w->para_level = paragraph_level(n);
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

/* ---- title from docProps/core.xml -------------------------------------- */

static void read_title(docx *d, ing_text *out)
{
    rag_buf b = {0};
    rag_err ignored = {0};
    xmlDocPtr doc = NULL;
    /* core.xml is optional and its flaws are not worth failing over */
    if (read_member(d, "docProps/core.xml", &b, &ignored) == 0 && b.len &&
        parse_xml(d, "docProps/core.xml", &b, &doc, &ignored) == 0 && doc) {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "title") ||
                !ns_is(c, DC_NS))
                continue;
            rag_buf t = {0};
            for (xmlNodePtr x = c->children; x; x = x->next)
                if ((x->type == XML_TEXT_NODE || x->type == XML_CDATA_SECTION_NODE) && x->content)
                    rag_buf_puts(&t, (const char *)x->content);
            if (t.len) {
                ing_text_set_title(out, t.data, t.len);
                out->title_in_text = 0;
            }
            rag_buf_free(&t);
            break;
        }
    }
    if (doc) xmlFreeDoc(doc);
    rag_buf_free(&b);
}

int ing_extract_docx(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err)
{
    const char *name = path ? path : "(input)";
    out->mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    ing_xml_init();

    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, n, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
    if (!za) {
        int rc =
            rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt DOCX: %s", name, zip_error_strerror(&ze));
        if (src) zip_source_free(src);
        zip_error_fini(&ze);
        return rc;
    }
    zip_error_fini(&ze);

    docx d = {.path = name, .lim = lim, .za = za};
    rag_buf body = {0};
    xmlDocPtr doc = NULL;
    int rc = read_member(&d, "word/document.xml", &body, err);
    if (rc == 1)
        rc = rag_err_set(err, RAG_ERR_FORMAT,
                         "%s: not a DOCX: the archive has no word/document.xml", name);
    if (!rc) rc = parse_xml(&d, "word/document.xml", &body, &doc, err);
    rag_buf_free(&body); /* the tree holds its own copy */
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
            walker w = {.out = out, .lim = lim};
            walk(&w, bodyel);
            rag_buf_free(&w.cur);
            if (w.too_big)
                rc = rag_err_set(err, RAG_ERR_LIMIT,
                                 "%s: the text is larger than the limit of %zu bytes", name,
                                 lim->max_text);
        }
    }
    if (doc) xmlFreeDoc(doc);
    if (!rc) read_title(&d, out);
    zip_discard(za);
    return rc;
}
