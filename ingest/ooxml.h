/* ingest/ooxml.h: what the Office Open XML extractors (docx.c, pptx.c,
 * xlsx.c) share: reading zip members under the unzipped-size and ratio
 * limits, parsing parts safely with libxml2, relationships, and the title
 * of docProps/core.xml. Private to those three files. */
#ifndef RAG_INGEST_OOXML_H
#define RAG_INGEST_OOXML_H

#include "ingest/ing_int.h"

#include <libxml/tree.h>
#include <zip.h>

typedef struct ooxml {
    const char *path; /* for messages */
    const char *kind; /* "DOCX", "PPTX", "XLSX": for messages */
    const ing_limits *lim;
    zip_t *za;
    zip_uint64_t total; /* bytes inflated so far, all members */
} ooxml;

/* Opens the zip data[0..n) (borrowed until ooxml_close). Errors:
 * RAG_ERR_FORMAT "PATH: corrupt KIND: reason". */
int ooxml_open(ooxml *z, const char *kind, const char *path, const uint8_t *data, size_t n,
               const ing_limits *lim, rag_err *err);
void ooxml_close(ooxml *z);

/* Reads a whole member into out under the limits (see docx.c's design
 * note). Returns 0, 1 when the member is absent, or an error naming it. */
int ooxml_read(ooxml *z, const char *member, rag_buf *out, rag_err *err);
/* Reads and parses a member (no network, no DTD, no entity substitution; a
 * part that declares a DTD is refused). Returns 0, 1 when absent, or an
 * error naming the member and the line. */
int ooxml_parse(ooxml *z, const char *member, xmlDocPtr *out, rag_err *err);

/* Element with local name `name` in one of the namespaces of `ns` (a
 * NULL-terminated list)? */
int ooxml_is(xmlNodePtr n, const char *const *ns, const char *name);
/* The value of the attribute with local name `name` (any namespace, or
 * none), or NULL. Borrowed from the tree. */
const char *ooxml_attr(xmlNodePtr n, const char *name);
/* The relationship id of n (attribute r:id, r:embed...: local name
 * `name` in a relationships namespace), or NULL. */
const char *ooxml_rid(xmlNodePtr n, const char *name);
/* Appends the text nodes directly under n. */
void ooxml_put_text(rag_buf *b, xmlNodePtr n);

/* Relationships of a part (its _rels/NAME.rels). Targets are resolved to
 * member names ("ppt/slides/slide1.xml"); external targets are left out. */
typedef struct ooxml_rel {
    char *id, *type, *target;
} ooxml_rel;
typedef struct ooxml_rels {
    ooxml_rel *v;
    size_t n;
} ooxml_rels;
/* An absent .rels part gives no relationships and 0. */
int ooxml_rels_read(ooxml *z, const char *part, ooxml_rels *out, rag_err *err);
void ooxml_rels_free(ooxml_rels *r);
/* The target of relationship `id`, or NULL. */
const char *ooxml_rels_target(const ooxml_rels *r, const char *id);
/* The target of the first relationship whose type ends with "/suffix". */
const char *ooxml_rels_by_type(const ooxml_rels *r, const char *suffix);
/* The main part named by _rels/.rels (officeDocument), or dflt. Owned. */
char *ooxml_main_part(ooxml *z, const char *dflt);

/* Title from docProps/core.xml (<dc:title>) when present; flaws of that
 * optional part are ignored. */
void ooxml_read_title(ooxml *z, ing_text *out);

#endif
