/* base/principal.h: who is asking. Shared by the store (visibility inside
 * every search) and the front ends (CLI --as, API keys).
 *
 * A principal may see a document iff it is an administrator, or the labels
 * of the document's ACL group intersect its roles. Deny by default. */
#ifndef RAG_BASE_PRINCIPAL_H
#define RAG_BASE_PRINCIPAL_H

#include "base/buf.h"
#include "base/err.h"

typedef struct rag_principal {
    rag_strv roles; /* owned; sorted, unique, validated labels */
    int admin;      /* sees everything */
} rag_principal;

/* Labels (ACL labels and roles) are 1-64 characters of [a-z0-9_.-] after
 * lowercasing; anything else is refused so that labels stay unambiguous in
 * listings, config files and comma-separated flags. */
#define RAG_LABEL_MAX 64
#define RAG_LABELS_MAX 64 /* labels per document or roles per principal */

/* Parses "a,b,c" into a sorted, unique, lowercased list; errors name the
 * offending label. `what` names the source in messages ("--acl", "--as"). */
int rag_labels_parse(const char *csv, const char *what, rag_strv *out, rag_err *err);

/* A principal with the given roles, not an administrator. */
int rag_principal_from_roles(const char *csv, rag_principal *out, rag_err *err);
void rag_principal_admin(rag_principal *out);
void rag_principal_free(rag_principal *p);

#endif
