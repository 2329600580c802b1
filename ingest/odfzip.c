/* ingest/odfzip.c: what the OpenDocument and EPUB extractors share beyond
 * reading zip members and XML parts, which is ooxml.c's (see odfzip.h):
 * the type a `mimetype` member declares, and small DOM helpers. */
#include "ingest/odfzip.h"

#include <libxml/parser.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

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
