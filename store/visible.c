/* store/visible.c: the visibility rule, "may principal P see document d",
 * as SQL for every query that returns documents or chunks, and as the list
 * of ACL groups whose indexes a search may read.
 *
 * Design note. This is the most security-critical code of the store: every
 * path of the store that hands a principal a document, a chunk or a search
 * hit applies this rule, in SQL. The rule (base/principal.h): P sees
 * d iff P is an administrator, or the labels of d's ACL group intersect
 * P's roles. Deny by default: a document whose group has no label is seen
 * by administrators only, a principal without roles sees nothing, and an
 * unknown role matches no label.
 *
 * What it owns. The rule in three forms, which must agree:
 *   store_visible_sql     a condition on `d` (documents), evaluated by
 *                         SQLite inside the query that reads the rows, so
 *                         nothing invisible is ever ranked, counted or
 *                         returned (document reads and listings in docs.c,
 *                         the hits of store_search_vector);
 *   store_visible_groups  the ids of the groups P sees, as lookups on the
 *                         label index, for the searches that read one index
 *                         per group (store_search_keyword and
 *                         store_search_vector): an invisible group's index is
 *                         never opened;
 *   store_doc_visible     the rule on a document already read without it
 *                         (ragd's URL uploads: which document a URL names).
 * Roles reach SQL only as a bound parameter (:roles, a JSON array that
 * store_bind_roles builds), never as SQL text; labels are [a-z0-9_.-]
 * (rag_labels_parse), so the array needs no escaping.
 *
 * What it calls: SQLite through store.c's helpers (store_prepare,
 * store_sqlite_err) and fts_groups.c's store_collect_ids. */
#include "store/store_int.h"
#include "base/buf.h"
#include "base/mem.h"

#include <stdlib.h>

int store_doc_visible(const rag_principal *who, const store_doc *d)
{
    if (who->admin) return 1;
    rag_strv labels = {0};
    rag_strv_split(&labels, d->labels, ',');
    int ok = 0;
    for (size_t i = 0; !ok && i < labels.n; i++)
        ok = rag_strv_contains(&who->roles, labels.v[i]);
    rag_strv_free(&labels);
    return ok;
}

const char *store_visible_sql(const rag_principal *who)
{
    if (!who || who->admin) return "1";
    return "d.acl_group IN (SELECT group_id FROM acl_group_labels "
           "WHERE label IN (SELECT value FROM json_each(:roles)))";
}

char *store_bind_roles(sqlite3_stmt *st, const rag_principal *who)
{
    int idx = sqlite3_bind_parameter_index(st, ":roles");
    if (!idx) return NULL;
    rag_buf b = {0};
    rag_buf_putc(&b, '[');
    for (size_t i = 0; who && i < who->roles.n; i++) /* labels are [a-z0-9_.-]: no escaping */
        rag_buf_printf(&b, "%s\"%s\"", i ? "," : "", who->roles.v[i]);
    rag_buf_putc(&b, ']');
    char *json = rag_buf_steal(&b);
    sqlite3_bind_text(st, idx, json, -1, SQLITE_STATIC);
    return json;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int store_visible_groups(store *s, const rag_principal *who, int64_t **out, size_t *n_out,
                         rag_err *err)
{
    /* The rule of store_visible_sql, as lookups on the label index: plain
     * statements keep this per-search step cheap (no temporary tables). */
    if (!who || who->admin)
        return store_collect_ids(s, "SELECT id FROM acl_groups ORDER BY id", NULL, out, n_out, err);
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT group_id FROM acl_group_labels WHERE label = ?1", &st, err);
    if (rc) return rc;
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; !rc && i < who->roles.n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, who->roles.v[i], -1, SQLITE_STATIC);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            v = rag_xgrow(v, &cap, n + 1, sizeof *v);
            v[n++] = sqlite3_column_int64(st, 0);
        }
        if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "list visible ACL groups", err);
    }
    sqlite3_finalize(st);
    if (rc) {
        rag_free(v);
        return rc;
    }
    if (n) qsort(v, n, sizeof *v, cmp_id);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[m - 1] != v[i]) v[m++] = v[i];
    *out = v;
    *n_out = m;
    return 0;
}
