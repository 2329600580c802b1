/* fuzz/fuzz_image.c: libFuzzer target for images through OCR
 * (ingest/ocr.c, ingest/child.c).
 *
 * Each input is an image file handed to ing_extract as ING_TYPE_IMAGE:
 * detected, then decoded by leptonica and read by tesseract in a forked
 * child with limits, whose records the parent parses. Images are limited
 * to 64 x 64 pixels so that the fuzzer spends its time on headers and
 * decoding rather than in tesseract; a larger header must give
 * RAG_ERR_LIMIT. Any input must be read or refused with RAG_ERR_FORMAT,
 * RAG_ERR_LIMIT or RAG_ERR_UNSUPPORTED (no text found), never crash the
 * parent or hang it past the child's wall-clock limit, and what is read
 * must be valid UTF-8 blocks inside the text. Without tesseract (or any
 * language for it) the target only checks that images are refused as
 * unsupported. Seeds:
 * build-fuzz/corpus-img, small scans written by `make fuzz` with
 * tests/tools/mkscan. */
#include "base/utf8.h"
#include "ingest/ing_int.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int usable = -1; /* tesseract built in, with a language installed */
    if (usable < 0) {
        char dir[1024], langs[512];
        rag_err lerr;
        usable = ing_ocr_built_in() &&
                 !ing_ocr_languages(NULL, dir, sizeof dir, langs, sizeof langs, &lerr);
    }
    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_text = 1 << 16;
    lim.ocr_max_pixels = 64 * 64;
    lim.ocr_cpu_s = 5;
    lim.ocr_timeout_s = 10;
    ing_text t = {0};
    rag_err err;
    (void)ing_detect("fuzz.png", data, size);
    int rc = ing_extract(ING_TYPE_IMAGE, "fuzz.png", data, size, &lim, &t, &err);
    if (rc && rc != RAG_ERR_UNSUPPORTED &&
        (!usable || (rc != RAG_ERR_FORMAT && rc != RAG_ERR_LIMIT)))
        abort();
    for (size_t i = 0; i < t.n_blocks; i++)
        if (t.blocks[i].start + t.blocks[i].len > t.text.len) abort();
    for (size_t i = 0; i < t.text.len;) { /* valid UTF-8 throughout */
        int32_t cp;
        size_t l = rag_utf8_decode((const uint8_t *)t.text.data + i, t.text.len - i, &cp);
        if (!l) abort();
        i += l;
    }
    ing_text_free(&t);
    return 0;
}
