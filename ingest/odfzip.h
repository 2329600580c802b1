/* ingest/odfzip.h: zip members and XML parts for the OpenDocument and EPUB
 * extractors (odf.c, epub.c), with the limits docx.c applies: a member may
 * not inflate past what its header declares, past lim->max_zip_ratio times
 * its compressed size (beyond 1 MiB), nor all members together past
 * lim->max_unzipped. XML is parsed without network, DTD loading or entity
 * substitution, and a part declaring a DTD is refused. Every message names
 * the file, the format (`kind`, "ODT", "EPUB", ...) and the member. */
#ifndef RAG_INGEST_ODFZIP_H
#define RAG_INGEST_ODFZIP_H

#include "ingest/ing_int.h"
#include "ingest/ooxml.h"

#include <libxml/tree.h>
#include <zip.h>

/* Zip members and XML parts are read by ooxml.c, with its limits and
 * messages; these names keep the OpenDocument code's argument order. */
typedef ooxml ozip;

/* Opens data[0..n) as a zip; errors name the file ("corrupt ODT: ..."). */
static inline int ozip_open(ozip *z, const char *path, const char *kind, const uint8_t *data,
                            size_t n, const ing_limits *lim, rag_err *err)
{
    return ooxml_open(z, kind, path, data, n, lim, err);
}
static inline void ozip_close(ozip *z)
{
    ooxml_close(z);
}
/* Reads a whole member into out (appended). 0, 1 when absent, or an error. */
static inline int ozip_read(ozip *z, const char *member, rag_buf *out, rag_err *err)
{
    return ooxml_read(z, member, out, err);
}
/* Reads and parses a member. 0 (*doc set), 1 when absent, or an error naming
 * the member and line. */
static inline int ozip_xml(ozip *z, const char *member, xmlDocPtr *doc, rag_err *err)
{
    return ooxml_parse(z, member, doc, err);
}

/* The type a zip's `mimetype` member declares (ODT, ODS, ODP or EPUB), else
 * ING_TYPE_UNKNOWN. Used by detection. */
ing_type ozip_mimetype_type(zip_t *za);

/* Small DOM helpers: is n the element {ns}name; attribute {ns}name (any
 * namespace when ns is NULL) or NULL; the concatenated text of n's
 * descendants appended to out. */
int ozip_is(xmlNodePtr n, const char *ns, const char *name);
const char *ozip_attr(xmlNodePtr n, const char *ns, const char *name);
void ozip_text(xmlNodePtr n, rag_buf *out);

#endif
