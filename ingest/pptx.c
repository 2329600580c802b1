/* ingest/pptx.c: PowerPoint presentations (Office Open XML, .pptx).
 *
 * Structure: a zip of XML parts (read through ooxml.c, under the same
 * unzipped-size and ratio limits as DOCX). The main part (named by
 * _rels/.rels, normally ppt/presentation.xml) lists the slides in show order
 * in <p:sldIdLst><p:sldId r:id="rId7"/>; each r:id leads through the
 * part's relationships (ppt/_rels/presentation.xml.rels) to a slide part,
 * whose file name says nothing about its place (slide7.xml may be shown
 * first). A slide <p:sld><p:cSld><p:spTree> holds shapes <p:sp> (text in
 * <p:txBody><a:p><a:r><a:t>), groups <p:grpSp>, and graphic frames
 * <p:graphicFrame> that may hold a table <a:tbl><a:tr><a:tc>. A shape whose
 * placeholder <p:nvPr><p:ph type="title"|"ctrTitle"> is the slide's title.
 * The speaker notes are the notesSlide part named by the slide's own
 * relationships. docProps/core.xml gives the title.
 *
 * Mapping: each slide is a heading of level 1, "Slide N: <title>" (N its
 * place in the show, from 1), or "Slide N" when it has no title text;
 * then, in shape order, each other paragraph (<a:p>: runs joined, <a:br/>
 * a line break) is a paragraph block and each table one block with a row
 * per line and cells separated by " | "; then, when the slide has notes, a
 * heading "Notes" of level 2 and the notes' paragraphs (the slide number,
 * date, header and footer placeholders of the notes page left out). Of
 * alternate content (<mc:AlternateContent>) only the first choice is read.
 * With no title in core.xml, the first slide's title text is the title.
 *
 * A slide that the list names but the archive lacks, or a slide or notes
 * part that is not well-formed XML, fails the document with a message that
 * names the part. */
#include "ingest/ooxml.h"
#include "base/mem.h"

#include <string.h>

static const char *const P_NS[] = {"http://schemas.openxmlformats.org/presentationml/2006/main",
                                   "http://purl.oclc.org/ooxml/presentationml/main", NULL};
static const char *const A_NS[] = {"http://schemas.openxmlformats.org/drawingml/2006/main",
                                   "http://purl.oclc.org/ooxml/drawingml/main", NULL};
static const char *const MC_NS[] = {"http://schemas.openxmlformats.org/markup-compatibility/2006",
                                    NULL};

typedef struct deck {
    ooxml *z;
    ing_text *out;
    int too_big;
} deck;

static xmlNodePtr child(xmlNodePtr n, const char *const *ns, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (ooxml_is(c, ns, name)) return c;
    return NULL;
}

/* The placeholder type of a shape ("title", "body", "sldNum"...), "" for a
 * placeholder without a type (a body), NULL when the shape is none. */
static const char *placeholder(xmlNodePtr sp)
{
    xmlNodePtr nv = child(sp, P_NS, "nvSpPr");
    xmlNodePtr ph = child(child(nv, P_NS, "nvPr"), P_NS, "ph");
    if (!ph) return NULL;
    const char *t = ooxml_attr(ph, "type");
    return t ? t : "";
}

static int is_title(const char *ph)
{
    return ph && (!strcmp(ph, "title") || !strcmp(ph, "ctrTitle"));
}

/* Appends the text of one <a:p>: runs, fields, line breaks. */
static void para_text(rag_buf *b, xmlNodePtr p)
{
    for (xmlNodePtr c = p->children; c; c = c->next) {
        if (ooxml_is(c, A_NS, "r") || ooxml_is(c, A_NS, "fld")) {
            xmlNodePtr t = child(c, A_NS, "t");
            if (t) ooxml_put_text(b, t);
        } else if (ooxml_is(c, A_NS, "br")) {
            rag_buf_putc(b, '\n');
        }
    }
}

static void check_size(deck *d)
{
    if (d->out->text.len > d->z->lim->max_text) d->too_big = 1;
}

/* A table: one block, a line per row, cells joined by " | ". */
static void add_table(deck *d, xmlNodePtr tbl)
{
    rag_buf b = {0};
    for (xmlNodePtr tr = tbl->children; tr; tr = tr->next) {
        if (!ooxml_is(tr, A_NS, "tr")) continue;
        if (b.len) rag_buf_putc(&b, '\n');
        int cells = 0;
        for (xmlNodePtr tc = tr->children; tc; tc = tc->next) {
            if (!ooxml_is(tc, A_NS, "tc")) continue;
            if (cells++) rag_buf_puts(&b, " | ");
            int paras = 0;
            xmlNodePtr body = child(tc, A_NS, "txBody");
            for (xmlNodePtr p = body ? body->children : NULL; p; p = p->next) {
                if (!ooxml_is(p, A_NS, "p")) continue;
                size_t before = b.len;
                if (paras) rag_buf_putc(&b, ' ');
                size_t mark = b.len;
                para_text(&b, p);
                for (size_t i = mark; i < b.len; i++) /* one line per row */
                    if (b.data[i] == '\n') b.data[i] = ' ';
                if (b.len == mark)
                    b.len = before;
                else
                    paras++;
                if (b.data) b.data[b.len] = 0;
            }
        }
    }
    ing_text_add(d->out, ING_PARA, 0, rag_buf_str(&b), b.len);
    rag_buf_free(&b);
    check_size(d);
}

/* Adds the paragraphs of a <p:txBody>. */
static void add_paras(deck *d, xmlNodePtr txbody)
{
    rag_buf b = {0};
    for (xmlNodePtr p = txbody ? txbody->children : NULL; p && !d->too_big; p = p->next) {
        if (!ooxml_is(p, A_NS, "p")) continue;
        rag_buf_clear(&b);
        para_text(&b, p);
        ing_text_add(d->out, ING_PARA, 0, rag_buf_str(&b), b.len);
        check_size(d);
    }
    rag_buf_free(&b);
}

/* The text of a title shape, its paragraphs joined by spaces. */
static void title_text(rag_buf *b, xmlNodePtr sp)
{
    xmlNodePtr body = child(sp, P_NS, "txBody");
    for (xmlNodePtr p = body ? body->children : NULL; p; p = p->next) {
        if (!ooxml_is(p, A_NS, "p")) continue;
        if (b->len) rag_buf_putc(b, ' ');
        para_text(b, p);
    }
}

/* Finds the first title shape of a shape tree (groups searched). */
static xmlNodePtr find_title(xmlNodePtr tree, int depth)
{
    for (xmlNodePtr c = tree->children; c && depth < 64; c = c->next) {
        xmlNodePtr r = NULL;
        if (ooxml_is(c, P_NS, "sp") && is_title(placeholder(c)))
            r = c;
        else if (ooxml_is(c, P_NS, "grpSp"))
            r = find_title(c, depth + 1);
        else if (ooxml_is(c, MC_NS, "AlternateContent"))
            r = find_title(child(c, MC_NS, "Choice") ? child(c, MC_NS, "Choice") : c, depth + 1);
        if (r) return r;
    }
    return NULL;
}

/* Adds the shapes of a tree in order, leaving out `skip` (the title shape)
 * and, on notes pages, the placeholders that are no notes. */
static void add_tree(deck *d, xmlNodePtr tree, xmlNodePtr skip, int notes, int depth)
{
    for (xmlNodePtr c = tree->children; c && !d->too_big && depth < 64; c = c->next) {
        if (c == skip) continue;
        if (ooxml_is(c, P_NS, "sp")) {
            const char *ph = placeholder(c);
            if (notes && ph &&
                (!strcmp(ph, "sldNum") || !strcmp(ph, "sldImg") || !strcmp(ph, "hdr") ||
                 !strcmp(ph, "ftr") || !strcmp(ph, "dt")))
                continue;
            add_paras(d, child(c, P_NS, "txBody"));
        } else if (ooxml_is(c, P_NS, "grpSp")) {
            add_tree(d, c, skip, notes, depth + 1);
        } else if (ooxml_is(c, P_NS, "graphicFrame")) {
            xmlNodePtr data = child(child(c, A_NS, "graphic"), A_NS, "graphicData");
            for (xmlNodePtr t = data ? data->children : NULL; t; t = t->next)
                if (ooxml_is(t, A_NS, "tbl")) add_table(d, t);
        } else if (ooxml_is(c, MC_NS, "AlternateContent")) {
            xmlNodePtr choice = child(c, MC_NS, "Choice");
            if (choice) add_tree(d, choice, skip, notes, depth + 1);
        }
    }
}

/* <ROOT><p:cSld><p:spTree> of a slide or notes part, or NULL. */
static xmlNodePtr shape_tree(xmlDocPtr doc)
{
    return child(child(xmlDocGetRootElement(doc), P_NS, "cSld"), P_NS, "spTree");
}

static int add_notes(deck *d, const char *part, rag_err *err)
{
    xmlDocPtr doc = NULL;
    int rc = ooxml_parse(d->z, part, &doc, err);
    if (rc == 1) return 0; /* a dangling notes link loses only the notes */
    if (rc) return rc;
    xmlNodePtr tree = shape_tree(doc);
    if (tree) {
        ing_text notes = {0};
        ing_text *slide_out = d->out;
        d->out = &notes;
        add_tree(d, tree, NULL, 1, 0);
        d->out = slide_out;
        if (notes.n_blocks) {
            ing_text_add(d->out, ING_HEADING, 2, "Notes", 5);
            for (size_t i = 0; i < notes.n_blocks; i++)
                ing_text_add(d->out, notes.blocks[i].kind, notes.blocks[i].level,
                             notes.text.data + notes.blocks[i].start, notes.blocks[i].len);
            check_size(d);
        }
        ing_text_free(&notes);
    }
    xmlFreeDoc(doc);
    return 0;
}

static int add_slide(deck *d, int num, const char *part, rag_err *err)
{
    xmlDocPtr doc = NULL;
    int rc = ooxml_parse(d->z, part, &doc, err);
    if (rc == 1)
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: corrupt PPTX: slide %d (%s) is missing from the archive",
                           d->z->path, num, part);
    if (rc) return rc;
    xmlNodePtr tree = shape_tree(doc);
    xmlNodePtr title = tree ? find_title(tree, 0) : NULL;
    rag_buf h = {0}, t = {0};
    if (title) title_text(&t, title);
    rag_buf_printf(&h, "Slide %d", num);
    size_t plain = h.len;
    if (t.len) {
        rag_buf_puts(&h, ": ");
        rag_buf_append(&h, t.data, t.len);
    }
    size_t before = d->out->n_blocks;
    ing_text_add(d->out, ING_HEADING, 1, h.data, h.len);
    /* a title of only spaces normalises to "Slide N:": say "Slide N" */
    if (d->out->n_blocks > before) {
        ing_block *b = &d->out->blocks[d->out->n_blocks - 1];
        if (b->len == plain + 1 && d->out->text.data[b->start + plain] == ':') {
            b->len = plain;
            d->out->text.len = b->start + plain;
            d->out->text.data[d->out->text.len] = 0;
        }
    }
    if (num == 1 && t.len && !d->out->title) {
        ing_text_set_title(d->out, t.data, t.len);
        d->out->title_in_text = 1;
    }
    rag_buf_free(&h);
    rag_buf_free(&t);
    if (tree) add_tree(d, tree, title, 0, 0);
    xmlFreeDoc(doc);

    ooxml_rels rels;
    rc = ooxml_rels_read(d->z, part, &rels, err);
    if (rc) return rc;
    const char *notes = ooxml_rels_by_type(&rels, "notesSlide");
    if (notes && !d->too_big) rc = add_notes(d, notes, err);
    ooxml_rels_free(&rels);
    return rc;
}

int ing_extract_pptx(const char *path, const uint8_t *data, size_t n, const ing_limits *lim,
                     ing_text *out, rag_err *err)
{
    out->mime = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
    ooxml z;
    int rc = ooxml_open(&z, "PPTX", path, data, n, lim, err);
    if (rc) return rc;
    ooxml_read_title(&z, out);
    char *main = ooxml_main_part(&z, "ppt/presentation.xml");
    xmlDocPtr doc = NULL;
    ooxml_rels rels = {0};
    rc = ooxml_parse(&z, main, &doc, err);
    if (rc == 1)
        rc =
            rag_err_set(err, RAG_ERR_FORMAT, "%s: not a PPTX: the archive has no %s", z.path, main);
    if (!rc) rc = ooxml_rels_read(&z, main, &rels, err);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!rc && !ooxml_is(root, P_NS, "presentation"))
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s is not a PresentationML presentation", z.path,
                         main);
    deck d = {.z = &z, .out = out};
    int num = 0;
    xmlNodePtr list = rc ? NULL : child(root, P_NS, "sldIdLst");
    for (xmlNodePtr s = list ? list->children : NULL; s && !rc && !d.too_big; s = s->next) {
        if (!ooxml_is(s, P_NS, "sldId")) continue;
        num++;
        const char *rid = ooxml_rid(s, "id");
        const char *part = ooxml_rels_target(&rels, rid);
        if (!part)
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s: corrupt PPTX: slide %d of %s (r:id %s) has no relationship",
                             z.path, num, main, rid ? rid : "missing");
        else
            rc = add_slide(&d, num, part, err);
    }
    if (!rc && d.too_big)
        rc = rag_err_set(err, RAG_ERR_LIMIT, "%s: the text is larger than the limit of %zu bytes",
                         z.path, lim->max_text);
    ooxml_rels_free(&rels);
    if (doc) xmlFreeDoc(doc);
    rag_free(main);
    ooxml_close(&z);
    return rc;
}
