/* fuzz/fuzz_ooxml.c: libFuzzer target for the Office Open XML extractors
 * (DOCX, PPTX, XLSX: ingest/ooxml.c, docx.c, pptx.c, xlsx.c) and the zip
 * detection of ingest/detect.c.
 *
 * Two kinds of input. One that starts with "PK" is a zip, handed as it is to
 * detection and to each extractor. Any other is a recipe: a letter (D, P, X:
 * the type to extract) then "name\0content\0" pairs, packed here into a
 * stored (uncompressed) zip, so that mutations reach the XML and the
 * relationship targets rather than dying at the zip's CRC checks. Seeds of
 * both kinds: `mkoffice DIR --seeds`.
 *
 * Any input must give 0, RAG_ERR_FORMAT or RAG_ERR_LIMIT, and blocks that
 * lie inside the text. Built and run by `make fuzz`. */
#include "ingest/ing_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(ing_type type, const uint8_t *d, size_t n)
{
    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_unzipped = (size_t)16 << 20;
    lim.max_text = (size_t)4 << 20;
    ing_text t;
    memset(&t, 0, sizeof t);
    rag_err err = {0};
    int rc = ing_extract(type, "fuzz", d, n, &lim, &t, &err);
    if (rc && rc != RAG_ERR_FORMAT && rc != RAG_ERR_LIMIT) abort();
    for (size_t i = 0; i < t.n_blocks; i++)
        if (t.blocks[i].start + t.blocks[i].len > t.text.len) abort();
    ing_text_free(&t);
}

/* Packs "name\0content\0..." into a stored zip; NULL when libzip refuses. */
static uint8_t *pack(const uint8_t *d, size_t n, size_t *out_n)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_error_fini(&ze);
    if (!src) return NULL;
    zip_source_keep(src);
    zip_error_init(&ze);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    zip_error_fini(&ze);
    if (!za) {
        zip_source_free(src);
        zip_source_free(src);
        return NULL;
    }
    size_t i = 0;
    while (i < n) {
        const uint8_t *name = d + i;
        const uint8_t *e = memchr(name, 0, n - i);
        if (!e) break;
        size_t cstart = (size_t)(e - d) + 1;
        const uint8_t *ce = cstart < n ? memchr(d + cstart, 0, n - cstart) : NULL;
        size_t cend = ce ? (size_t)(ce - d) : n;
        if (e > name) {
            zip_source_t *s = zip_source_buffer(za, d + cstart, cend - cstart, 0);
            zip_int64_t idx = s ? zip_file_add(za, (const char *)name, s, ZIP_FL_OVERWRITE) : -1;
            if (idx >= 0)
                zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
            else if (s)
                zip_source_free(s);
        }
        i = cend + 1;
    }
    uint8_t *buf = NULL;
    if (zip_close(za) < 0) {
        zip_discard(za);
    } else {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_source_open(src) == 0) {
            if (zip_source_stat(src, &st) == 0 && (st.valid & ZIP_STAT_SIZE)) {
                buf = malloc(st.size ? st.size : 1);
                if (buf && zip_source_read(src, buf, st.size) != (zip_int64_t)st.size) {
                    free(buf);
                    buf = NULL;
                }
                *out_n = (size_t)st.size;
            }
            zip_source_close(src);
        }
    }
    zip_source_free(src);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        (void)ing_detect("fuzz", data, size);
        check(ING_TYPE_DOCX, data, size);
        check(ING_TYPE_PPTX, data, size);
        check(ING_TYPE_XLSX, data, size);
        return 0;
    }
    if (size < 1) return 0;
    ing_type type = data[0] == 'D'   ? ING_TYPE_DOCX
                    : data[0] == 'P' ? ING_TYPE_PPTX
                    : data[0] == 'X' ? ING_TYPE_XLSX
                                     : ING_TYPE_UNKNOWN;
    if (type == ING_TYPE_UNKNOWN) return 0;
    size_t n = 0;
    uint8_t *zip = pack(data + 1, size - 1, &n);
    if (!zip) return 0;
    (void)ing_detect("fuzz", zip, n);
    check(type, zip, n);
    free(zip);
    return 0;
}
