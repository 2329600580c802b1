/* base/config.c: INI-like configuration files. */
#include "base/config.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MAX_BYTES (1u << 20)

typedef struct entry {
    char *key, *value, *where;
} entry;

struct rag_config {
    entry *v;
    size_t n, cap;
};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static void set(rag_config *c, const char *key, const char *value, const char *where)
{
    for (size_t i = 0; i < c->n; i++) {
        if (!strcmp(c->v[i].key, key)) { /* later lines win */
            rag_free(c->v[i].value);
            rag_free(c->v[i].where);
            c->v[i].value = rag_xstrdup(value);
            c->v[i].where = rag_xstrdup(where);
            return;
        }
    }
    c->v = rag_xgrow(c->v, &c->cap, c->n + 1, sizeof *c->v);
    c->v[c->n++] = (entry){rag_xstrdup(key), rag_xstrdup(value), rag_xstrdup(where)};
}

int rag_config_load(const char *path, int optional, rag_config **out, rag_err *err)
{
    *out = rag_xcalloc(1, sizeof **out);
    char *text = NULL;
    rag_err ferr = {0};
    int rc = rag_file_read(path, CONFIG_MAX_BYTES, &text, NULL, &ferr);
    if (rc) {
        if (optional && rc == RAG_ERR_IO && ferr.sys_errno == ENOENT) return 0;
        rag_config_free(*out);
        *out = NULL;
        if (err) *err = ferr;
        return rc;
    }
    char section[128] = "";
    int lineno = 0;
    char *p = text;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lineno++;
        char *l = trim(p);
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (*l == 0 || *l == '#' || *l == ';') {
            /* blank or comment */
        } else if (*l == '[') {
            char *e = strchr(l, ']');
            if (!e || e[1]) {
                rc = rag_err_set(err, RAG_ERR_INVALID, "%s: malformed section header", where);
                break;
            }
            *e = 0;
            snprintf(section, sizeof section, "%s", trim(l + 1));
        } else {
            char *eq = strchr(l, '=');
            if (!eq) {
                rc = rag_err_set(err, RAG_ERR_INVALID, "%s: expected 'key = value'", where);
                break;
            }
            *eq = 0;
            char *k = trim(l), *v = trim(eq + 1);
            size_t vl = strlen(v);
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') { /* optional quotes */
                v[vl - 1] = 0;
                v++;
            }
            char key[256];
            snprintf(key, sizeof key, "%s%s%s", section, *section ? "." : "", k);
            set(*out, key, v, where);
        }
        p = nl ? nl + 1 : NULL;
    }
    rag_free(text);
    if (rc) {
        rag_config_free(*out);
        *out = NULL;
    }
    return rc;
}

void rag_config_free(rag_config *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        rag_free(c->v[i].key);
        rag_free(c->v[i].value);
        rag_free(c->v[i].where);
    }
    rag_free(c->v);
    rag_free(c);
}

static const entry *find(const rag_config *c, const char *key)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (!strcmp(c->v[i].key, key)) return &c->v[i];
    return NULL;
}

const char *rag_config_get(const rag_config *c, const char *key)
{
    const entry *e = find(c, key);
    return e ? e->value : NULL;
}

const char *rag_config_where(const rag_config *c, const char *key)
{
    const entry *e = find(c, key);
    return e ? e->where : "";
}

int rag_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || *s == '-') return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 0:
        break;
    case 'K':
        shift = 10;
        end++;
        break;
    case 'M':
        shift = 20;
        end++;
        break;
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        return -1;
    }
    if (toupper((unsigned char)*end) == 'B' || toupper((unsigned char)*end) == 'I') end++;
    if (*end) return -1;
    if (shift && v > (SIZE_MAX >> shift)) return -1;
    *out = (size_t)(v << shift);
    return 0;
}

int rag_config_get_size(const rag_config *c, const char *key, size_t *out, rag_err *err)
{
    const entry *e = find(c, key);
    if (!e) return 0;
    if (rag_parse_size(e->value, out) < 0)
        return rag_err_set(err, RAG_ERR_INVALID, "%s: %s: '%s' is not a size (e.g. 512, 64K, 256M)",
                           e->where, key, e->value);
    return 0;
}

int rag_config_get_bool(const rag_config *c, const char *key, int *out, rag_err *err)
{
    const entry *e = find(c, key);
    if (!e) return 0;
    const char *v = e->value;
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
             !strcasecmp(v, "off"))
        *out = 0;
    else
        return rag_err_set(err, RAG_ERR_INVALID, "%s: %s: '%s' is not true or false", e->where, key,
                           v);
    return 0;
}

int rag_config_check_keys(const rag_config *c, const char *const *known, rag_err *err)
{
    for (size_t i = 0; c && i < c->n; i++) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = !strcmp(*k, c->v[i].key);
        if (!ok)
            return rag_err_set(err, RAG_ERR_INVALID, "%s: unknown setting '%s'", c->v[i].where,
                               c->v[i].key);
    }
    return 0;
}
