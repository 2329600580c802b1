/* store/keys.c: the daemon's API keys (table api_keys, migration 4).
 *
 * The store keeps names, roles, permissions and a SHA-256 of each key, never
 * the key itself: whoever reads the database cannot call the API. Making
 * keys and checking them is rag/keys.c's business. */
#include "store/store_int.h"
#include "base/mem.h"

#include <string.h>
#include <time.h>

int store_key_add(store *s, const store_key *k, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "INSERT INTO api_keys(name, prefix, hash, roles, perms, created_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k->prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, k->roles ? k->roles : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, k->perms);
    sqlite3_bind_int64(st, 6, k->created_at ? k->created_at : (int64_t)time(NULL));
    int step = sqlite3_step(st);
    if ((step & 0xff) == SQLITE_CONSTRAINT)
        rc = rag_err_set(err, RAG_ERR_INVALID, "%s: a key named '%s' exists already", s->path,
                         k->name);
    else if (step != SQLITE_DONE)
        rc = store_sqlite_err(s, step, "add an API key", err);
    sqlite3_finalize(st);
    return rc;
}

int store_key_list(store *s, store_key **out, size_t *n, rag_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT id, name, prefix, hash, roles, perms, created_at FROM api_keys "
                           "ORDER BY name",
                           &st, err);
    if (rc) return rc;
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        *out = rag_xgrow(*out, &cap, *n + 1, sizeof **out);
        store_key *k = &(*out)[(*n)++];
        k->id = sqlite3_column_int64(st, 0);
        k->name = store_col_str(st, 1);
        k->prefix = store_col_str(st, 2);
        k->hash = store_col_str(st, 3);
        k->roles = store_col_str(st, 4);
        k->perms = sqlite3_column_int(st, 5);
        k->created_at = sqlite3_column_int64(st, 6);
    }
    if (step != SQLITE_DONE) {
        rc = store_sqlite_err(s, step, "list the API keys", err);
        store_keys_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int store_key_delete(store *s, const char *name, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "DELETE FROM api_keys WHERE name = ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step != SQLITE_DONE)
        rc = store_sqlite_err(s, step, "remove an API key", err);
    else
        rc = sqlite3_changes(s->db) > 0;
    sqlite3_finalize(st);
    return rc;
}

void store_keys_free(store_key *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rag_free(v[i].name);
        rag_free(v[i].prefix);
        rag_free(v[i].hash);
        rag_free(v[i].roles);
    }
    rag_free(v);
}

int store_key_clear(store *s, rag_err *err)
{
    return store_exec(s, "DELETE FROM api_keys", err);
}
