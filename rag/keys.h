/* rag/keys.h: API keys of the daemon.
 *
 * A key is "rag-" followed by 43 characters of base64url (256 random bits
 * from the kernel). The database keeps only its SHA-256 (store_key): with
 * that much entropy a plain hash cannot be reversed, and a lookup needs no
 * salt or slow KDF. Checking a presented key hashes it and compares the
 * hash with every known one in constant time, so neither a match nor its
 * position leaks through timing.
 *
 * The daemon holds the keys in a keyring loaded from the database at start
 * and again on SIGHUP. */
#ifndef RAG_RAG_KEYS_H
#define RAG_RAG_KEYS_H

#include "base/err.h"
#include "base/principal.h"
#include "cluster/cluster.h"
#include "store/store.h"

#define RAG_KEY_LEN 47       /* "rag-" + 43 base64url characters */
#define RAG_KEY_PREFIX_LEN 8 /* characters kept for listings ("rag-AbCd") */

/* A new random key (NUL-terminated). */
int rag_key_generate(char key[RAG_KEY_LEN + 1], rag_err *err);
/* The lowercase hex SHA-256 of a key. */
void rag_key_hash(const char *key, size_t len, char hex[65]);

/* Creates a key named `name` for `roles` (comma-separated labels, may be
 * empty) with STORE_PERM_* bits, stores its hash (in the cluster cl when not
 * NULL, else in s) and returns it in `key`:
 * the only time it is ever shown. */
int rag_key_create(store *s, clu *cl, const char *name, const char *roles, int perms,
                   char key[RAG_KEY_LEN + 1], rag_err *err);

typedef struct rag_keyring rag_keyring;

/* Loads every key of the database (a snapshot: later changes need a new
 * keyring). */
int rag_keyring_load(store *s, rag_keyring **out, rag_err *err);
void rag_keyring_free(rag_keyring *kr);
size_t rag_keyring_size(const rag_keyring *kr);

/* Checks a presented key. On a match returns 1 and fills *who (a copy: free
 * with rag_principal_free), *perms and name (the key's name, for logs);
 * returns 0 otherwise. Administrators' principals see everything. */
int rag_keyring_check(const rag_keyring *kr, const char *key, size_t len, rag_principal *who,
                      int *perms, char *name, size_t name_size);

#endif
