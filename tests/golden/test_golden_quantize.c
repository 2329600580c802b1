/* Our quantizers against llama.cpp's: the test data's quantized models were
 * made from tiny-llama-f32.gguf by llama.cpp's quantizer. Quantizing the
 * same f32 tensors with llm_quantize_row must give the same bytes for every
 * tensor whose type we write (the per-tensor type mix of each file is
 * llama.cpp's choice and is taken from the file). */
#include "base/mem.h"
#include "llm/llm.h"
#include "../unit/test.h"

static void compare(const char *dir, const char *file)
{
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/models/tiny-llama-f32.gguf", dir);
    snprintf(b, sizeof b, "%s/models/%s", dir, file);
    llm_gguf *src = NULL, *ref = NULL;
    rag_err err = {0};
    if (llm_gguf_open(a, &src, &err) || llm_gguf_open(b, &ref, &err)) {
        printf("    %s\n", err.msg);
        test_case_failed = 1;
        llm_gguf_close(src);
        return;
    }
    int same = 0, differ = 0, skipped = 0;
    char types[128] = "";
    for (size_t i = 0; i < llm_gguf_n_tensors(ref); i++) {
        const llm_tensor_info *r = llm_gguf_tensor(ref, i), *s = llm_gguf_find_tensor(src, r->name);
        const llm_dtype_info *ti = llm_dtype_get(r->type);
        if (!s || s->type != LLM_F32 || r->type == LLM_F32 || !ti->can_quantize) {
            skipped++;
            continue;
        }
        if (!strstr(types, ti->name))
            snprintf(types + strlen(types), sizeof types - strlen(types), " %s", ti->name);
        int64_t rows = s->ne[1] * s->ne[2] * s->ne[3];
        size_t rb = llm_row_bytes(r->type, s->ne[0]);
        uint8_t *q = rag_xmalloc(rb * (size_t)rows);
        for (int64_t k = 0; k < rows; k++)
            llm_quantize_row(r->type, (const float *)s->data + k * s->ne[0], q + (size_t)k * rb,
                             s->ne[0]);
        if (rb * (size_t)rows == r->nbytes && !memcmp(q, r->data, r->nbytes))
            same++;
        else {
            differ++;
            printf("    %s: %s (%s) differs from llama.cpp's\n", file, r->name, ti->name);
        }
        rag_free(q);
    }
    printf("    %-26s %d tensors identical (%s), %d differ, %d not quantized by us\n", file, same,
           types, differ, skipped);
    CHECK_INT(differ, 0);
    CHECK(same > 0);
    llm_gguf_close(src);
    llm_gguf_close(ref);
}

static void test_quantizers_match_llama_cpp(void)
{
    const char *dir = test_data_dir();
    if (!dir) return;
    const char *files[] = {"tiny-llama-q8_0.gguf", "tiny-llama-q6_k.gguf", "tiny-llama-q4_k_m.gguf",
                           "tiny-llama-q2_k.gguf", "tiny-llama-q4_0.gguf", "tiny-llama-q4_1.gguf",
                           "tiny-llama-q5_0.gguf", "tiny-llama-q5_1.gguf", "tiny-llama-f16.gguf",
                           "tiny-llama-bf16.gguf"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        compare(dir, files[i]);
}

int main(void)
{
    RUN(test_quantizers_match_llama_cpp);
    return test_summary();
}
