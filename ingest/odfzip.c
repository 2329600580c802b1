/* ingest/odfzip.c: zip members and XML parts shared by the OpenDocument and
 * EPUB extractors (see odfzip.h). The reading rules are docx.c's: sizes
 * stored in the archive are only used to fail early; what counts is what
 * inflating actually produces. */
#include "ingest/odfzip.h"

#include <libxml/parser.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#define READ_CHUNK 65536
#define RATIO_FLOOR ((zip_uint64_t)1 << 20) /* small members may compress well */

int ozip_open(ozip *z, const char *path, const char *kind, const uint8_t *data, size_t n,
              const ing_limits *lim, rag_err *err)
{
    memset(z, 0, sizeof *z);
    z->path = path ? path : "(input)";
    z->kind = kind;
    z->lim = lim;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, n, 0, &ze);
    z->za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
    int rc = 0;
    if (!z->za) {
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt %s: %s", z->path, kind,
                         zip_error_strerror(&ze));
        if (src) zip_source_free(src);
    }
    zip_error_fini(&ze);
    return rc;
}

void ozip_close(ozip *z)
{
    if (z->za) zip_discard(z->za);
    z->za = NULL;
}

static int ratio_error(ozip *z, const char *member, rag_err *err)
{
    return rag_err_set(err, RAG_ERR_LIMIT, "%s: %s expands more than %ux (zip bomb?)", z->path,
                       member, z->lim->max_zip_ratio);
}

static int total_error(ozip *z, rag_err *err)
{
    return rag_err_set(err, RAG_ERR_LIMIT,
                       "%s: the %s expands to more than %zu bytes (uncompressed limit)", z->path,
                       z->kind, z->lim->max_unzipped);
}

int ozip_read(ozip *z, const char *member, rag_buf *out, rag_err *err)
{
    zip_int64_t idx = zip_name_locate(z->za, member, 0);
    if (idx < 0) return 1;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->za, (zip_uint64_t)idx, 0, &st) < 0)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: corrupt %s: %s: %s", z->path, z->kind, member,
                           zip_strerror(z->za));
    zip_uint64_t comp = (st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size ? st.comp_size : 1;
    if (st.valid & ZIP_STAT_SIZE) { /* an honest bomb fails before any inflating */
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

/* The first error of a parse: later ones are mostly consequences of it. */
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

int ozip_xml(ozip *z, const char *member, xmlDocPtr *out, rag_err *err)
{
    *out = NULL;
    rag_buf b = {0};
    int rc = ozip_read(z, member, &b, err);
    if (rc) {
        rag_buf_free(&b);
        return rc;
    }
    if (b.len > INT_MAX) {
        rag_buf_free(&b);
        return total_error(z, err);
    }
    ing_xml_init();
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        rag_buf_free(&b);
        return rag_err_set(err, RAG_ERR_NOMEM, "%s: cannot create an XML parser", z->path);
    }
    first_error fe = {0};
    ctxt->_private = &fe;
    ctxt->sax->serror = keep_first_error;
    /* No XML_PARSE_NOENT (no entity substitution), no DTDLOAD, no HUGE. */
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, rag_buf_str(&b), (int)b.len, member, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        if (!fe.msg[0]) keep_first_error(ctxt, (xmlErrorPtr)xmlCtxtGetLastError(ctxt));
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s: malformed XML at line %d: %s", z->path,
                         member, fe.line, fe.msg[0] ? fe.msg : "not well-formed");
    } else if (doc->intSubset || doc->extSubset) {
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s declares a DTD, which %s does not need",
                         z->path, member, z->kind);
        xmlFreeDoc(doc);
        doc = NULL;
    } else if (!xmlDocGetRootElement(doc)) {
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: %s has no root element", z->path, member);
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    rag_buf_free(&b);
    *out = doc;
    return rc;
}

ing_type ozip_mimetype_type(zip_t *za)
{
    static const struct {
        const char *mime;
        ing_type type;
    } known[] = {
        {"application/vnd.oasis.opendocument.text", ING_TYPE_ODT},
        {"application/vnd.oasis.opendocument.text-template", ING_TYPE_ODT},
        {"application/vnd.oasis.opendocument.text-master", ING_TYPE_ODT},
        {"application/vnd.oasis.opendocument.spreadsheet", ING_TYPE_ODS},
        {"application/vnd.oasis.opendocument.spreadsheet-template", ING_TYPE_ODS},
        {"application/vnd.oasis.opendocument.presentation", ING_TYPE_ODP},
        {"application/vnd.oasis.opendocument.presentation-template", ING_TYPE_ODP},
        {"application/epub+zip", ING_TYPE_EPUB},
    };
    zip_int64_t idx = zip_name_locate(za, "mimetype", 0);
    if (idx < 0) return ING_TYPE_UNKNOWN;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE) ||
        st.size > 128)
        return ING_TYPE_UNKNOWN;
    zip_file_t *f = zip_fopen_index(za, (zip_uint64_t)idx, 0);
    if (!f) return ING_TYPE_UNKNOWN;
    char buf[130];
    zip_int64_t r = zip_fread(f, buf, 129);
    zip_fclose(f);
    if (r <= 0 || r > 128) return ING_TYPE_UNKNOWN;
    size_t l = (size_t)r;
    while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r' || buf[l - 1] == ' '))
        l--;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].mime) == l && !strncasecmp(buf, known[i].mime, l)) return known[i].type;
    return ING_TYPE_UNKNOWN;
}

int ozip_is(xmlNodePtr n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name) &&
           (!ns || (n->ns && n->ns->href && !strcmp((const char *)n->ns->href, ns)));
}

const char *ozip_attr(xmlNodePtr n, const char *ns, const char *name)
{
    for (xmlAttrPtr a = n ? n->properties : NULL; a; a = a->next)
        if (a->name && !strcmp((const char *)a->name, name) &&
            (!ns || (a->ns && a->ns->href && !strcmp((const char *)a->ns->href, ns))) &&
            a->children && a->children->type == XML_TEXT_NODE && a->children->content)
            return (const char *)a->children->content;
    return NULL;
}

void ozip_text(xmlNodePtr n, rag_buf *out)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            rag_buf_puts(out, (const char *)c->content);
        else if (c->type == XML_ELEMENT_NODE)
            ozip_text(c, out);
    }
}
