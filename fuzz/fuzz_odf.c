/* fuzz/fuzz_odf.c: libFuzzer target for the OpenDocument and EPUB
 * extractors (ingest/odf.c, ingest/epub.c, ingest/odfzip.c).
 *
 * Mutating a zip rarely gets past its CRCs to the XML, so the first byte
 * picks what the input is:
 *   'P' (a zip's "PK")  the whole input is a file: detected and extracted
 *                       as ODT, ODS, ODP or EPUB, whatever it is;
 *   '0'                 the rest is content.xml of an ODT (the body element
 *                       decides between text, spreadsheet, presentation),
 *                       zipped here with a mimetype and a meta.xml;
 *   '1'                 the rest is the OPF of an EPUB whose container.xml
 *                       points at it, with one chapter "c.xhtml";
 *   '2'                 the rest is that chapter, with a fixed OPF.
 * Any input must be read or refused with RAG_ERR_FORMAT or RAG_ERR_LIMIT,
 * and blocks must lie inside valid UTF-8 text. Seeds: build-fuzz/corpus-odf,
 * written by `make fuzz` from tests/tools/mkodf's files. */
#include "ingest/ing_int.h"
#include "base/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CONTAINER[] =
    "<?xml version=\"1.0\"?><container version=\"1.0\" "
    "xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\"><rootfiles>"
    "<rootfile full-path=\"o/p.opf\" media-type=\"application/oebps-package+xml\"/>"
    "</rootfiles></container>";
static const char OPF[] =
    "<?xml version=\"1.0\"?><package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\">"
    "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>T</dc:title></metadata>"
    "<manifest><item id=\"c\" href=\"c.xhtml\" media-type=\"application/xhtml+xml\"/></manifest>"
    "<spine><itemref idref=\"c\"/></spine></package>";
static const char CHAPTER[] = "<html xmlns=\"http://www.w3.org/1999/xhtml\"><body><h1>H</h1>"
                              "<p>text</p></body></html>";
static const char META[] =
    "<office:document-meta xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><office:meta><dc:title>T</dc:title>"
    "</office:meta></office:document-meta>";

static void add(zip_t *za, const char *name, const void *d, size_t n)
{
    zip_source_t *s = zip_source_buffer(za, d, n, 0);
    if (s && zip_file_add(za, name, s, 0) < 0) zip_source_free(s);
}

/* A zip of the given members in memory; *out malloc'd. 0 on success. */
static int make_zip(const char *mimetype, const char *const *names, const void *const *datas,
                    const size_t *lens, int n, uint8_t **out, size_t *out_n)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &ze) : NULL;
    zip_error_fini(&ze);
    if (!za) {
        if (src) zip_source_free(src);
        return -1;
    }
    zip_source_keep(src);
    add(za, "mimetype", mimetype, strlen(mimetype));
    zip_set_file_compression(za, 0, ZIP_CM_STORE, 0);
    for (int i = 0; i < n; i++)
        add(za, names[i], datas[i], lens[i]);
    int rc = -1;
    if (zip_close(za) < 0) {
        zip_discard(za);
    } else if (zip_source_open(src) == 0) {
        zip_source_seek(src, 0, SEEK_END);
        zip_int64_t sz = zip_source_tell(src);
        zip_source_seek(src, 0, SEEK_SET);
        if (sz > 0 && (*out = malloc((size_t)sz)) &&
            zip_source_read(src, *out, (zip_uint64_t)sz) == sz) {
            *out_n = (size_t)sz;
            rc = 0;
        } else if (*out) {
            free(*out);
            *out = NULL;
        }
        zip_source_close(src);
    }
    zip_source_free(src);
    return rc;
}

static void extract(ing_type type, const uint8_t *d, size_t n)
{
    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_text = 1 << 20;
    lim.max_unzipped = 16 << 20;
    ing_text t = {0};
    rag_err err;
    int rc = ing_extract(type, "fuzz", d, n, &lim, &t, &err);
    if (rc && rc != RAG_ERR_FORMAT && rc != RAG_ERR_LIMIT) abort();
    for (size_t i = 0; i < t.n_blocks; i++)
        if (t.blocks[i].start + t.blocks[i].len > t.text.len) abort();
    for (size_t i = 0; i < t.text.len;) {
        int32_t cp;
        size_t l = rag_utf8_decode((const uint8_t *)t.text.data + i, t.text.len - i, &cp);
        if (!l) abort();
        i += l;
    }
    ing_text_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] == 'P') {
        ing_type ty = ing_detect("fuzz", data, size);
        extract(ty == ING_TYPE_ODS || ty == ING_TYPE_ODP || ty == ING_TYPE_EPUB ? ty : ING_TYPE_ODT,
                data, size);
        if (ty != ING_TYPE_EPUB) extract(ING_TYPE_EPUB, data, size);
        return 0;
    }
    const uint8_t *rest = data + 1;
    size_t rn = size - 1;
    uint8_t *z = NULL;
    size_t zn = 0;
    if (data[0] == '0') {
        const char *names[] = {"content.xml", "meta.xml"};
        const void *datas[] = {rest, META};
        size_t lens[] = {rn, sizeof META - 1};
        if (!make_zip("application/vnd.oasis.opendocument.text", names, datas, lens, 2, &z, &zn))
            extract(ING_TYPE_ODT, z, zn);
    } else if (data[0] == '1' || data[0] == '2') {
        int opf = data[0] == '1';
        const char *names[] = {"META-INF/container.xml", "o/p.opf", "o/c.xhtml"};
        const void *datas[] = {CONTAINER, opf ? (const void *)rest : OPF,
                               opf ? (const void *)CHAPTER : rest};
        size_t lens[] = {sizeof CONTAINER - 1, opf ? rn : sizeof OPF - 1,
                         opf ? sizeof CHAPTER - 1 : rn};
        if (!make_zip("application/epub+zip", names, datas, lens, 3, &z, &zn))
            extract(ING_TYPE_EPUB, z, zn);
    }
    free(z);
    return 0;
}
