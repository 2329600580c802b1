/* base/principal.c: label parsing and principals. */
#include "base/principal.h"
#include "base/mem.h"

#include <string.h>

int rag_labels_parse(const char *csv, const char *what, rag_strv *out, rag_err *err)
{
    rag_strv raw = {0};
    rag_strv_split(&raw, csv, ',');
    for (size_t i = 0; i < raw.n; i++) {
        char *l = raw.v[i];
        size_t len = strlen(l);
        if (len > RAG_LABEL_MAX) {
            rag_err_set(err, RAG_ERR_INVALID, "%s: label '%.20s...' is longer than %d characters",
                        what, l, RAG_LABEL_MAX);
            goto fail;
        }
        for (char *c = l; *c; c++) {
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
                  *c == '.')) {
                rag_err_set(err, RAG_ERR_INVALID,
                            "%s: label '%s' has a character outside [a-z0-9_.-]", what, l);
                goto fail;
            }
        }
        rag_strv_push(out, l);
    }
    rag_strv_free(&raw);
    rag_strv_sort_unique(out);
    if (out->n > RAG_LABELS_MAX)
        return rag_err_set(err, RAG_ERR_INVALID, "%s: more than %d labels", what, RAG_LABELS_MAX);
    return 0;
fail:
    rag_strv_free(&raw);
    return RAG_ERR_INVALID;
}

int rag_principal_from_roles(const char *csv, rag_principal *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = rag_labels_parse(csv, "roles", &out->roles, err);
    if (rc) {
        rag_strv_free(&out->roles);
        return rc;
    }
    if (out->roles.n == 0)
        return rag_err_set(err, RAG_ERR_INVALID, "roles: at least one role is needed");
    return 0;
}

void rag_principal_admin(rag_principal *out)
{
    memset(out, 0, sizeof *out);
    out->admin = 1;
}

void rag_principal_free(rag_principal *p)
{
    rag_strv_free(&p->roles);
}
