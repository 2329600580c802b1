/* base/hash.c: SHA-256 through OpenSSL's EVP interface. */
#include "base/hash.h"

#include <openssl/evp.h>
#include <stdlib.h>

void rag_sha256_hex(const void *data, size_t len, char hex[RAG_SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL)) abort(); /* only fails on OOM */
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = 0;
}
