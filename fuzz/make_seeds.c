/* fuzz/make_seeds.c: writes small valid GGUF files as the fuzzer's seed
 * corpus (every value type, arrays of strings and numbers, nested arrays,
 * tensors of several types and shapes). Usage: make_seeds DIR */
#include "llm/llm.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    static float f32[64 * 4];
    static uint8_t q8[34 * 8];
    for (int i = 0; i < 64 * 4; i++)
        f32[i] = (float)i / 7;
    for (int seed = 0; seed < 4; seed++) {
        llm_gguf_writer *w = llm_gguf_writer_new();
        llm_gguf_set_str(w, "general.architecture", seed & 1 ? "qwen2" : "llama");
        llm_gguf_set_u32(w, "llama.block_count", 2);
        llm_gguf_set_i32(w, "x.i32", -5);
        llm_gguf_set_u64(w, "x.u64", 1ull << 40);
        llm_gguf_set_f32(w, "x.f32", 0.5f);
        llm_gguf_set_bool(w, "x.bool", 1);
        const char *toks[] = {"<s>", "</s>", "hello", "\xE2\x96\x81world"};
        llm_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 4);
        float scores[] = {0, 0, -1, -2};
        llm_gguf_set_arr(w, "tokenizer.ggml.scores", LLM_GGUF_F32, scores, 4);
        int64_t ne[2] = {64, 4};
        if (seed < 3) llm_gguf_add_tensor(w, "a.weight", LLM_F32, seed ? 2 : 1, ne, f32);
        int64_t ne8[2] = {32 * 4, 2};
        if (seed >= 2) llm_gguf_add_tensor(w, "b.weight", LLM_Q8_0, 2, ne8, q8);
        char path[4096];
        snprintf(path, sizeof path, "%s/seed%d.gguf", argv[1], seed);
        rag_err err;
        if (llm_gguf_write(w, path, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        llm_gguf_writer_free(w);
    }
    return 0;
}
