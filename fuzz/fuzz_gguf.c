/* fuzz/fuzz_gguf.c: libFuzzer target for the GGUF reader.
 *
 * Any input must be either refused with RAG_ERR_FORMAT or opened; an opened
 * file must survive every accessor (all metadata values, all array elements,
 * every byte of every tensor) without reading outside the input. Built and
 * run by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined). */
#include "llm/llm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llm_gguf *g = NULL;
    rag_err err;
    int rc = llm_gguf_open_memory(data, size, "fuzz", &g, &err);
    if (rc) {
        if (rc != RAG_ERR_FORMAT) abort(); /* only format errors are possible from memory */
        return 0;
    }
    for (size_t i = 0; i < llm_gguf_n_kv(g); i++) {
        const char *key = llm_gguf_key(g, i);
        llm_gguf_type t = llm_gguf_kv_type(g, i);
        uint64_t u;
        float f;
        int b;
        const char *s;
        size_t len;
        llm_gguf_get_u64(g, key, &u, &err);
        llm_gguf_get_f32(g, key, &f, &err);
        llm_gguf_get_bool(g, key, &b, &err);
        if (t == LLM_GGUF_STRING && !llm_gguf_get_str(g, key, &s, &len, &err))
            for (size_t k = 0; k < len; k++)
                sink += (uint8_t)s[k];
        llm_gguf_type et;
        uint64_t n;
        if (t == LLM_GGUF_ARRAY && !llm_gguf_get_arr(g, key, &et, &n, &err)) {
            for (uint64_t k = 0; k < n && k < 4096; k++) {
                if (et == LLM_GGUF_STRING) {
                    llm_gguf_arr_str(g, (int64_t)i, k, &s, &len);
                    if (len) sink += (uint8_t)s[len - 1];
                } else if (et != LLM_GGUF_ARRAY) {
                    sink += (uint64_t)llm_gguf_arr_int(g, (int64_t)i, k);
                    double d = llm_gguf_arr_float(g, (int64_t)i, k);
                    uint64_t bits;
                    memcpy(&bits, &d, sizeof bits); /* casting NaN or huge values is undefined */
                    sink += bits;
                }
            }
        }
        const void *raw;
        llm_gguf_kv_raw(g, i, &raw, &len);
        if (len) sink += ((const uint8_t *)raw)[len - 1];
    }
    for (size_t i = 0; i < llm_gguf_n_tensors(g); i++) {
        const llm_tensor_info *t = llm_gguf_tensor(g, i);
        if (llm_gguf_find_tensor(g, t->name) != t) abort();
        const uint8_t *p = t->data;
        if (t->nbytes) sink += p[0] + p[t->nbytes - 1];
    }
    llm_gguf_close(g);
    return 0;
}
