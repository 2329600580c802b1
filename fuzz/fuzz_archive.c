/* fuzz/fuzz_archive.c: libFuzzer target for archives and compressed files
 * (ingest/archive.c, libarchive).
 *
 * Any input is detected, walked as a container (every member's bytes read
 * back) and decompressed as a single file, under small limits so that a
 * run stays fast; the only outcomes are members, a member failure with its
 * message, or RAG_ERR_FORMAT / RAG_ERR_LIMIT / RAG_ERR_UNSUPPORTED for the
 * whole. Member names must come out normalised (no "..", no leading '/').
 * Built and run by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined),
 * from seeds the Makefile writes (zip, tar, tar.gz, gz, bz2, xz). */
#include "ingest/ing_int.h"

#include "base/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static int visit(void *ctx, const ing_member *m, rag_err *err)
{
    (void)err;
    size_t *count = ctx;
    (*count)++;
    if (!m->name || !*m->name || m->name[0] == '/') abort();
    for (const char *p = m->name; *p; p++)
        if ((p == m->name || p[-1] == '/') && p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
            abort();
    if (m->fail) {
        if (!m->fail_msg || m->data) abort();
        return 0;
    }
    uint64_t h = 0;
    for (size_t i = 0; i < m->n; i++)
        h = h * 31 + m->data[i];
    sink += h;
    (void)ing_detect(m->name, m->data, m->n);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_member = (size_t)1 << 20;
    lim.max_container = (size_t)4 << 20;
    lim.max_members = 1000;
    sink += (uint64_t)ing_detect("fuzz.bin", data, size);
    size_t count = 0;
    rag_err err = {0};
    int rc = ing_archive_members("fuzz", data, size, &lim, visit, &count, &err);
    if (rc && rc != RAG_ERR_FORMAT && rc != RAG_ERR_LIMIT && rc != RAG_ERR_UNSUPPORTED) abort();
    rag_buf out = {0};
    char *inner = NULL;
    const char *filter = NULL;
    rc = ing_decompress("fuzz.gz", data, size, &lim, &out, &inner, &filter, &err);
    if (rc < 0 && rc != RAG_ERR_FORMAT && rc != RAG_ERR_LIMIT) abort();
    sink += out.len;
    rag_buf_free(&out);
    rag_free(inner);
    return 0;
}
