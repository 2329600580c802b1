/* rag/keys.c: making and checking API keys (see rag/keys.h). */
#include "rag/keys.h"
#include "base/buf.h"
#include "base/hash.h"
#include "base/mem.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int rag_key_generate(char key[RAG_KEY_LEN + 1], rag_err *err)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[32];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return rag_err_sys(err, errno, "getrandom");
        got += (size_t)n;
    }
    memcpy(key, "rag-", 4);
    /* 256 bits as 43 base64url digits (the last holds 4 bits) */
    size_t o = 4;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof r; i++) {
        acc = (acc << 8) | r[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            key[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits) key[o++] = b64url[(acc << (6 - bits)) & 63];
    key[o] = 0;
    return 0;
}

void rag_key_hash(const char *key, size_t len, char hex[65])
{
    rag_sha256_hex(key, len, hex);
}

int rag_key_create(store *s, clu *cl, const char *name, const char *roles, int perms,
                   char key[RAG_KEY_LEN + 1], rag_err *err)
{
    size_t nl = strlen(name);
    if (nl == 0 || nl > 64)
        return rag_err_set(err, RAG_ERR_INVALID, "key name: 1 to 64 characters, not %zu", nl);
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c == 0x7f || c == ',')
            return rag_err_set(err, RAG_ERR_INVALID,
                               "key name '%s': no spaces, commas or control characters", name);
    }
    rag_strv labels = {0};
    int rc = rag_labels_parse(roles ? roles : "", "--roles", &labels, err);
    if (rc) return rc;
    if (!labels.n && !(perms & STORE_PERM_ADMIN)) {
        rag_strv_free(&labels);
        return rag_err_set(
            err, RAG_ERR_INVALID,
            "key '%s': give it at least one role (--roles), or make it an administrator", name);
    }
    char *joined = rag_strv_join(&labels, ",");
    rag_strv_free(&labels);
    rc = rag_key_generate(key, err);
    char hash[65], prefix[RAG_KEY_PREFIX_LEN + 1];
    if (!rc) {
        rag_key_hash(key, strlen(key), hash);
        snprintf(prefix, sizeof prefix, "%s", key);
        store_key k = {
            .name = (char *)name, .prefix = prefix, .hash = hash, .roles = joined, .perms = perms};
        rc = cl ? clu_key_add(cl, &k, err) : store_key_add(s, &k, err);
    }
    rag_free(joined);
    if (rc) memset(key, 0, RAG_KEY_LEN + 1);
    return rc;
}

typedef struct keyent {
    unsigned char hash[32];
    char *name;
    rag_principal who;
    int perms;
} keyent;

struct rag_keyring {
    keyent *v;
    size_t n;
};

static int unhex(const char *hex, unsigned char out[32])
{
    if (strlen(hex) != 64) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

int rag_keyring_load(store *s, rag_keyring **out, rag_err *err)
{
    store_key *keys;
    size_t n;
    int rc = store_key_list(s, &keys, &n, err);
    if (rc) return rc;
    rag_keyring *kr = rag_xcalloc(1, sizeof *kr);
    kr->v = rag_xcalloc(n ? n : 1, sizeof *kr->v);
    for (size_t i = 0; i < n && !rc; i++) {
        keyent *e = &kr->v[kr->n];
        if (unhex(keys[i].hash, e->hash)) {
            rc = rag_err_set(err, RAG_ERR_CORRUPT,
                             "%s: api_keys: the hash of key '%s' is not SHA-256 hex", store_path(s),
                             keys[i].name);
            break;
        }
        if (keys[i].perms & STORE_PERM_ADMIN)
            rag_principal_admin(&e->who);
        else if ((rc = rag_principal_from_roles(keys[i].roles, &e->who, err)))
            break;
        e->name = rag_xstrdup(keys[i].name);
        e->perms = keys[i].perms;
        kr->n++;
    }
    store_keys_free(keys, n);
    if (rc) {
        rag_keyring_free(kr);
        return rc;
    }
    *out = kr;
    return 0;
}

void rag_keyring_free(rag_keyring *kr)
{
    if (!kr) return;
    for (size_t i = 0; i < kr->n; i++) {
        rag_free(kr->v[i].name);
        rag_principal_free(&kr->v[i].who);
    }
    rag_free(kr->v);
    rag_free(kr);
}

size_t rag_keyring_size(const rag_keyring *kr)
{
    return kr ? kr->n : 0;
}

int rag_keyring_check(const rag_keyring *kr, const char *key, size_t len, rag_principal *who,
                      int *perms, char *name, size_t name_size)
{
    char hex[65];
    unsigned char h[32];
    rag_key_hash(key, len, hex);
    unhex(hex, h);
    /* every entry is compared, whatever matched before it */
    const keyent *found = NULL;
    for (size_t i = 0; kr && i < kr->n; i++)
        if (CRYPTO_memcmp(h, kr->v[i].hash, sizeof h) == 0) found = &kr->v[i];
    if (!found) return 0;
    memset(who, 0, sizeof *who);
    who->admin = found->who.admin;
    for (size_t i = 0; i < found->who.roles.n; i++)
        rag_strv_push(&who->roles, found->who.roles.v[i]);
    *perms = found->perms;
    snprintf(name, name_size, "%s", found->name);
    return 1;
}
