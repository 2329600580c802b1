/* fuzz/fuzz_tokenizer.c: libFuzzer target for the tokenizers.
 *
 * The vocabularies are the test data's (RAG_TESTDATA, default
 * ../shared/testdata): Unigram (XLM-R), WordPiece, SentencePiece and three
 * byte-level BPE pre-tokenizers. The first input byte picks one; the rest
 * is text, tokenized without and with special tokens and as a reranker pair
 * (split in its middle). Every call must succeed (any bytes are text), give
 * ids inside the vocabulary, and detokenize within llm_detok_bound per
 * token. Built and run by `make fuzz` (clang, -fsanitize=fuzzer,address,
 * undefined). */
#include "llm/llm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"ggml-vocab-ugm-xlmr.gguf",       "ggml-vocab-bert-bge.gguf",
                                    "ggml-vocab-llama-spm.gguf",      "ggml-vocab-gpt-2.gguf",
                                    "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-falcon.gguf"};
#define N_VOCAB (sizeof names / sizeof *names)
static llm_vocab *vocabs[N_VOCAB];

static void load(void)
{
    const char *dir = getenv("RAG_TESTDATA");
    if (!dir) dir = "../shared/testdata";
    for (size_t i = 0; i < N_VOCAB; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/vocab/%s", dir, names[i]);
        llm_gguf *g;
        rag_err err = {0};
        if (llm_gguf_open(path, &g, &err) || llm_vocab_load(g, &vocabs[i], &err)) {
            fprintf(stderr, "fuzz_tokenizer: %s (set RAG_TESTDATA)\n", err.msg);
            abort();
        }
        llm_gguf_close(g);
    }
}

static void check(const llm_vocab *v, const llm_tokens *t)
{
    size_t cap = llm_detok_bound(v);
    char *buf = malloc(cap);
    llm_detok d;
    llm_detok_init(&d);
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i] < 0 || t->v[i] >= llm_vocab_size(v)) abort();
        if (llm_detok_push(v, &d, t->v[i], 1, buf, cap) > cap) abort();
    }
    if (llm_detok_flush(&d, buf, cap) > cap) abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vocabs[0]) load();
    if (size < 1) return 0;
    const llm_vocab *v = vocabs[data[0] % N_VOCAB];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    rag_err err;
    for (int special = 0; special < 2; special++) {
        llm_tokens t = {0};
        if (llm_tokenize(v, text, len, special, special, &t, &err)) abort();
        check(v, &t);
        llm_tokens_free(&t);
    }
    llm_tokens t = {0};
    if (llm_tokenize_pair(v, text, len / 2, text + len / 2, len - len / 2, &t, &err)) abort();
    check(v, &t);
    llm_tokens_free(&t);
    return 0;
}
