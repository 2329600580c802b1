/* base/hash.c: SHA-256 through OpenSSL's EVP interface. */
#include "base/hash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

static void to_hex(const unsigned char *md, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = 0;
}

void rag_sha256_hex(const void *data, size_t len, char hex[RAG_SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL)) abort(); /* only fails on OOM */
    to_hex(md, n, hex);
}

int rag_sha256_file(const char *path, char hex[RAG_SHA256_HEX_LEN + 1], rag_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rag_err_sys(err, errno, "%s", path);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) abort(); /* only fails on OOM */
    enum { BLOCK = 1 << 20 };
    unsigned char *buf = malloc(BLOCK);
    if (!buf) abort();
    size_t got;
    while ((got = fread(buf, 1, BLOCK, f)) > 0)
        EVP_DigestUpdate(c, buf, got);
    int failed = ferror(f);
    fclose(f);
    free(buf);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(c, md, &n);
    EVP_MD_CTX_free(c);
    if (failed) return rag_err_set(err, RAG_ERR_IO, "%s: read error", path);
    to_hex(md, n, hex);
    return 0;
}
