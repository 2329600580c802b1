/* fuzz/fuzz_rtf.c: libFuzzer target for the RTF reader (ingest/rtf.c).
 *
 * Any input must be read or refused with RAG_ERR_FORMAT or RAG_ERR_LIMIT,
 * without reading outside the input, leaking or crashing; what is read must
 * be valid UTF-8 blocks inside the text. Seeds: RTF files written by `make
 * fuzz` into build-fuzz/corpus-rtf. Built and run by `make fuzz` (clang,
 * -fsanitize=fuzzer,address,undefined). */
#include "base/utf8.h"
#include "ingest/ing_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_text = 1 << 20;
    ing_text t = {0};
    rag_err err;
    (void)ing_detect("fuzz.rtf", data, size);
    int rc = ing_extract(ING_TYPE_RTF, "fuzz.rtf", data, size, &lim, &t, &err);
    if (rc && rc != RAG_ERR_FORMAT && rc != RAG_ERR_LIMIT) abort();
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
