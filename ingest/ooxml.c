/* ingest/ooxml.c: the parts of Office Open XML shared by docx.c, pptx.c and
 * xlsx.c (see ooxml.h); its zip and XML reading also serves the
 * OpenDocument and EPUB extractors (odfzip.h).
 *
 * Zip members are untrusted: sizes stored in the archive are only used to
 * fail early; what counts is what inflating actually produces. A member that
 * inflates to more than its header declares is corrupt (or a bomb in
 * disguise) and stops there. Otherwise reading stops with RAG_ERR_LIMIT once
 * a member has expanded more than lim->max_zip_ratio times its compressed
 * size (beyond 1 MiB), or once all members read together exceed
 * lim->max_unzipped. The XML is parsed without network access, DTD loading,
 * entity substitution or XML_PARSE_HUGE (libxml2's default size and depth
 * limits apply), and a part that declares a DTD is refused: OOXML forbids
 * DTDs, and entity tricks need one.
 *
 * Relationship targets are resolved like URIs relative to the part that
 * holds them ("../notesSlides/notesSlide1.xml" from ppt/slides/slide1.xml
 * is ppt/notesSlides/notesSlide1.xml; "/xl/workbook.xml" is absolute);
 * ".." never climbs above the archive's root. */
#include "ingest/ooxml.h"
#include "base/mem.h"

#include <libxml/parser.h>
#include <limits.h>
#include <string.h>

#define READ_CHUNK 65536
#define RATIO_FLOOR ((zip_uint64_t)1 << 20) /* small members may compress well */

static const char DC_NS[] = "http://purl.org/dc/elements/1.1/";
static const char REL_NS[] = "http://schemas.openxmlformats.org/package/2006/relationships";

int ooxml_open(ooxml *z, const char *kind, const char *path, const uint8_t *data, size_t n,
               const ing_limits *lim, rag_err *err)
{
    memset(z, 0, sizeof *z);
    z->path = path ? path : "(input)";
    z->kind = kind;
    z->lim = lim;
    ing_xml_init();
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, n, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
    if (!za) {
        int rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt %s: %s", z->path, kind,
                             zip_error_strerror(&ze));
        if (src) zip_source_free(src); /* not taken over by a failed open */
        zip_error_fini(&ze);
        return rc;
    }
    zip_error_fini(&ze);
    z->za = za;
    return 0;
}

void ooxml_close(ooxml *z)
{
    if (z->za) zip_discard(z->za); /* frees the source too; nothing to write back */
    z->za = NULL;
}

static int ratio_error(ooxml *z, const char *member, rag_err *err)
{
    return rag_err_set(err, RAG_ERR_LIMIT, "%s: %s expands more than %ux (zip bomb?)", z->path,
                       member, z->lim->max_zip_ratio);
}

static int total_error(ooxml *z, rag_err *err)
{
    return rag_err_set(err, RAG_ERR_LIMIT,
                       "%s: the %s expands to more than %zu bytes (uncompressed limit)", z->path,
                       z->kind, z->lim->max_unzipped);
}

int ooxml_read(ooxml *z, const char *member, rag_buf *out, rag_err *err)
{
    zip_int64_t idx = zip_name_locate(z->za, member, 0);
    if (idx < 0) return 1;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->za, (zip_uint64_t)idx, 0, &st) < 0)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt %s: %s: %s", z->path, z->kind, member,
                           zip_strerror(z->za));
    zip_uint64_t comp = (st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size ? st.comp_size : 1;
    /* The stored sizes let an honest bomb fail before any inflating. */
    if (st.valid & ZIP_STAT_SIZE) {
        if (st.size > RATIO_FLOOR && st.size / comp > z->lim->max_zip_ratio)
            return ratio_error(z, member, err);
        if (z->total > z->lim->max_unzipped || st.size > z->lim->max_unzipped - z->total)
            return total_error(z, err);
    }
    zip_file_t *f = zip_fopen_index(z->za, (zip_uint64_t)idx, 0);
    if (!f)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt %s: %s: %s", z->path, z->kind, member,
                           zip_strerror(z->za));
    zip_uint64_t got = 0;
    int rc = 0;
    for (;;) {
        rag_buf_reserve(out, READ_CHUNK);
        zip_int64_t r = zip_fread(f, out->data + out->len, READ_CHUNK);
        if (r < 0) {
            rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt %s: %s: %s", z->path, z->kind,
                             member, zip_file_strerror(f));
            break;
        }
        if (r == 0) break;
        out->len += (size_t)r;
        out->data[out->len] = 0;
        got += (zip_uint64_t)r;
        z->total += (zip_uint64_t)r;
        if ((st.valid & ZIP_STAT_SIZE) && got > st.size) { /* the header lied */
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s: corrupt %s: %s inflates to more than the %llu bytes its "
                             "zip header declares",
                             z->path, z->kind, member, (unsigned long long)st.size);
            break;
        }
        if (z->total > z->lim->max_unzipped) {
            rc = total_error(z, err);
            break;
        }
        if (got > RATIO_FLOOR && got / comp > z->lim->max_zip_ratio) {
            rc = ratio_error(z, member, err);
            break;
        }
    }
    zip_fclose(f);
    return rc;
}

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

int ooxml_parse(ooxml *z, const char *member, xmlDocPtr *out, rag_err *err)
{
    *out = NULL;
    rag_buf b = {0};
    int rc = ooxml_read(z, member, &b, err);
    if (rc) {
        rag_buf_free(&b);
        return rc;
    }
    if (b.len > INT_MAX) {
        rag_buf_free(&b);
        return total_error(z, err);
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        rag_buf_free(&b);
        return rag_err_set(err, RAG_ERR_NOMEM, "%s: cannot create an XML parser", z->path);
    }
    first_error fe = {0};
    ctxt->_private = &fe;
    ctxt->sax->serror = keep_first_error; /* called with ctxt->userData == ctxt */
    /* No XML_PARSE_NOENT (no entity substitution), no DTDLOAD, no HUGE. */
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, rag_buf_str(&b), (int)b.len, member, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    rag_buf_free(&b); /* the tree holds its own copy */
    if (!doc) {
        if (!fe.msg[0]) { /* not reported through the handler: take the last */
            const xmlError *e = xmlCtxtGetLastError(ctxt);
            keep_first_error(ctxt, (xmlErrorPtr)e);
        }
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s: malformed XML at line %d: %s", z->path,
                         member, fe.line, fe.msg[0] ? fe.msg : "not well-formed");
    } else if (doc->intSubset || doc->extSubset) {
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s declares a DTD, which %s does not allow",
                         z->path, member, z->kind);
        xmlFreeDoc(doc);
        doc = NULL;
    } else if (!xmlDocGetRootElement(doc)) {
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s has no root element", z->path, member);
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    *out = doc;
    return rc;
}

int ooxml_is(xmlNodePtr n, const char *const *ns, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name)) return 0;
    if (!n->ns || !n->ns->href) return 0;
    for (; *ns; ns++)
        if (!strcmp((const char *)n->ns->href, *ns)) return 1;
    return 0;
}

const char *ooxml_attr(xmlNodePtr n, const char *name)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next)
        if (a->name && !strcmp((const char *)a->name, name) && a->children &&
            a->children->type == XML_TEXT_NODE)
            return (const char *)a->children->content;
    return NULL;
}

const char *ooxml_rid(xmlNodePtr n, const char *name)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        if (!a->name || strcmp((const char *)a->name, name) || !a->ns || !a->ns->href) continue;
        const char *href = (const char *)a->ns->href;
        size_t l = strlen(href);
        if (l >= 13 && !strcmp(href + l - 13, "relationships") && a->children &&
            a->children->type == XML_TEXT_NODE)
            return (const char *)a->children->content;
    }
    return NULL;
}

void ooxml_put_text(rag_buf *b, xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next) /* text nodes only: never entities */
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            rag_buf_puts(b, (const char *)c->content);
}

/* ---- relationships -------------------------------------------------------- */

/* base's folder + target, with "." and ".." segments resolved. Owned. */
static char *resolve(const char *base, const char *target)
{
    rag_buf b = {0};
    if (target[0] == '/') {
        target++;
    } else {
        const char *slash = strrchr(base, '/');
        if (slash) rag_buf_append(&b, base, (size_t)(slash - base + 1));
    }
    rag_buf_puts(&b, target);
    /* resolve segments in place */
    rag_buf_reserve(&b, 1);
    char *s = b.data;
    size_t w = 0, r = 0, n = b.len;
    while (r < n) {
        size_t e = r;
        while (e < n && s[e] != '/')
            e++;
        size_t len = e - r;
        if ((len == 1 && s[r] == '.') || len == 0) {
            /* skip */
        } else if (len == 2 && s[r] == '.' && s[r + 1] == '.') {
            if (w > 0) w--; /* drop the '/' */
            while (w > 0 && s[w - 1] != '/')
                w--;
        } else {
            memmove(s + w, s + r, len);
            w += len;
            if (e < n) s[w++] = '/';
        }
        r = e + 1;
    }
    s[w] = 0;
    char *out = rag_xstrdup(s);
    rag_buf_free(&b);
    return out;
}

int ooxml_rels_read(ooxml *z, const char *part, ooxml_rels *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    /* ppt/slides/slide1.xml -> ppt/slides/_rels/slide1.xml.rels; "" -> _rels/.rels */
    const char *slash = strrchr(part, '/');
    size_t dir = slash ? (size_t)(slash - part + 1) : 0;
    rag_buf name = {0};
    rag_buf_append(&name, part, dir);
    rag_buf_puts(&name, "_rels/");
    rag_buf_puts(&name, part + dir);
    rag_buf_puts(&name, ".rels");
    xmlDocPtr doc = NULL;
    int rc = ooxml_parse(z, rag_buf_str(&name), &doc, err);
    rag_buf_free(&name);
    if (rc == 1) return 0;
    if (rc) return rc;
    static const char *const ns[] = {REL_NS, NULL};
    size_t cap = 0;
    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c; c = c->next) {
        if (!ooxml_is(c, ns, "Relationship")) continue;
        const char *id = ooxml_attr(c, "Id"), *type = ooxml_attr(c, "Type"),
                   *target = ooxml_attr(c, "Target"), *mode = ooxml_attr(c, "TargetMode");
        if (!id || !target || (mode && !strcmp(mode, "External"))) continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 8;
            out->v = rag_xrealloc(out->v, cap * sizeof *out->v);
        }
        ooxml_rel *r = &out->v[out->n++];
        r->id = rag_xstrdup(id);
        r->type = rag_xstrdup(type ? type : "");
        r->target = resolve(part, target);
    }
    xmlFreeDoc(doc);
    return 0;
}

void ooxml_rels_free(ooxml_rels *r)
{
    for (size_t i = 0; i < r->n; i++) {
        rag_free(r->v[i].id);
        rag_free(r->v[i].type);
        rag_free(r->v[i].target);
    }
    rag_free(r->v);
    memset(r, 0, sizeof *r);
}

const char *ooxml_rels_target(const ooxml_rels *r, const char *id)
{
    for (size_t i = 0; id && i < r->n; i++)
        if (!strcmp(r->v[i].id, id)) return r->v[i].target;
    return NULL;
}

const char *ooxml_rels_by_type(const ooxml_rels *r, const char *suffix)
{
    size_t sl = strlen(suffix);
    for (size_t i = 0; i < r->n; i++) {
        size_t tl = strlen(r->v[i].type);
        if (tl > sl && r->v[i].type[tl - sl - 1] == '/' && !strcmp(r->v[i].type + tl - sl, suffix))
            return r->v[i].target;
    }
    return NULL;
}

char *ooxml_main_part(ooxml *z, const char *dflt)
{
    ooxml_rels r;
    rag_err ignored = {0};
    char *out = NULL;
    if (ooxml_rels_read(z, "", &r, &ignored) == 0) {
        const char *t = ooxml_rels_by_type(&r, "officeDocument");
        if (t && zip_name_locate(z->za, t, 0) >= 0) out = rag_xstrdup(t);
        ooxml_rels_free(&r);
    }
    return out ? out : rag_xstrdup(dflt);
}

void ooxml_read_title(ooxml *z, ing_text *out)
{
    rag_err ignored = {0};
    xmlDocPtr doc = NULL;
    static const char *const ns[] = {DC_NS, NULL};
    /* core.xml is optional and its flaws are not worth failing over */
    if (ooxml_parse(z, "docProps/core.xml", &doc, &ignored) == 0 && doc) {
        for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c; c = c->next) {
            if (!ooxml_is(c, ns, "title")) continue;
            rag_buf t = {0};
            ooxml_put_text(&t, c);
            if (t.len) {
                ing_text_set_title(out, t.data, t.len);
                out->title_in_text = 0;
            }
            rag_buf_free(&t);
            break;
        }
    }
    if (doc) xmlFreeDoc(doc);
}
