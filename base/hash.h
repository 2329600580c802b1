/* base/hash.h: SHA-256 (OpenSSL's libcrypto) for content hashes and files. */
#ifndef RAG_BASE_HASH_H
#define RAG_BASE_HASH_H

#include "base/err.h"

#include <stddef.h>

#define RAG_SHA256_HEX_LEN 64

/* Writes the lowercase hex digest of data[0..len) into hex (65 bytes). */
void rag_sha256_hex(const void *data, size_t len, char hex[RAG_SHA256_HEX_LEN + 1]);

/* The same for a whole file, read in blocks (files larger than memory). */
int rag_sha256_file(const char *path, char hex[RAG_SHA256_HEX_LEN + 1], rag_err *err);

#endif
