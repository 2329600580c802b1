/* embed: models that cannot embed are refused with a reason; prefixes per
 * kind of input; truncation to the context keeps the closing token and is
 * reported; decoders embed with last-token pooling; normalisation; a
 * text's vector and a pair's score are bit for bit the same embedded alone
 * or with others, on every instruction set. */
#include "base/buf.h"
#include "base/mem.h"
#include "embed/embed.h"
#include "llm/kernels.h"
#include "test.h"

#include <math.h>

static const char *model_path(const char *name)
{
    static char path[1024];
    const char *dir = test_data_dir();
    if (!dir) return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void test_refusals(void)
{
    const char *p = model_path("models/tiny-llama-f32.gguf");
    if (!p) return;
    emb_model *m;
    rag_err err = {0};
    CHECK_INT(emb_model_open(p, NULL, &m, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "decoder");
    CHECK_CONTAINS(err.msg, "last-token pooling");
    p = model_path("vocab/ggml-vocab-bert-bge.gguf");
    CHECK_INT(emb_model_open(p, NULL, &m, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "vocabulary but no weights");
    p = model_path("models/bert-rank-f32.gguf");
    CHECK_INT(emb_model_open(p, NULL, &m, &err), 0);
    float v[64];
    const char *t = "x";
    CHECK_INT(emb_embed(m, &t, 1, EMB_RAW, 1, v, NULL, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "reranker");
    emb_model_close(m);
    p = model_path("models/bert-mean-f32.gguf");
    CHECK_INT(emb_model_open(p, NULL, &m, &err), 0);
    float s;
    CHECK_INT(emb_rerank(m, "q", &t, 1, &s, &err), RAG_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not a reranker");
    emb_model_close(m);
}

static void test_prefixes_and_normalization(void)
{
    const char *p = model_path("models/bert-mean-f32.gguf");
    if (!p) return;
    emb_params ep;
    emb_default_params(&ep);
    ep.query_prefix = "query: ";
    ep.doc_prefix = "passage: ";
    emb_model *m;
    rag_err err = {0};
    CHECK_INT(emb_model_open(p, &ep, &m, &err), 0);
    if (!m) return;
    int E = emb_dims(m);
    CHECK_STR(emb_model_identity(m)->query_prefix, "query: ");
    CHECK_INT(strlen(emb_model_identity(m)->file_sha256), 64);
    float *a = rag_xcalloc((size_t)E * 4, sizeof *a);
    const char *texts[] = {"refund policy", "query: refund policy", "passage: refund policy"};
    CHECK_INT(emb_embed(m, &texts[0], 1, EMB_QUERY, 1, a, NULL, &err), 0);
    CHECK_INT(emb_embed(m, &texts[1], 1, EMB_RAW, 1, a + E, NULL, &err), 0);
    CHECK_INT(emb_embed(m, &texts[0], 1, EMB_DOCUMENT, 1, a + 2 * E, NULL, &err), 0);
    CHECK_INT(emb_embed(m, &texts[2], 1, EMB_RAW, 0, a + 3 * E, NULL, &err), 0);
    double d01 = 0, d23 = 0, n0 = 0, n3 = 0;
    for (int i = 0; i < E; i++) {
        d01 += fabs(a[i] - a[E + i]);
        n0 += (double)a[i] * a[i];
        n3 += (double)a[3 * E + i] * a[3 * E + i];
    }
    for (int i = 0; i < E; i++)
        d23 += fabs(a[2 * E + i] - a[3 * E + i] / sqrt(n3));
    CHECK(d01 < 1e-4); /* a query is the raw text with the query prefix */
    CHECK(d23 < 1e-4); /* a document is the raw text with the document prefix */
    CHECK(fabs(sqrt(n0) - 1) < 1e-5);
    CHECK(fabs(sqrt(n3) - 1) > 1e-3); /* not normalised when not asked */
    rag_free(a);
    emb_model_close(m);
}

static void test_truncation(void)
{
    const char *p = model_path("models/bert-cls-f32.gguf");
    if (!p) return;
    emb_model *m;
    rag_err err = {0};
    CHECK_INT(emb_model_open(p, NULL, &m, &err), 0);
    if (!m) return;
    int ctx = emb_max_tokens(m), E = emb_dims(m);
    rag_buf long_text = {0}, cut_text = {0};
    for (int i = 0; i < ctx * 2; i++)
        rag_buf_puts(&long_text, "word ");
    for (int i = 0; i < ctx - 2; i++)
        rag_buf_puts(&cut_text, "word ");
    const char *t[2] = {long_text.data, cut_text.data};
    float *v = rag_xcalloc((size_t)E * 2, sizeof *v);
    uint8_t trunc[2] = {9, 9};
    CHECK_INT(emb_embed(m, t, 2, EMB_RAW, 1, v, trunc, &err), 0);
    CHECK_INT(trunc[0], 1);
    CHECK_INT(trunc[1], 0);
    /* the long text cut to [CLS] + ctx-2 words + [SEP] is the short text */
    double d = 0;
    for (int i = 0; i < E; i++)
        d += fabs(v[i] - v[E + i]);
    CHECK(d < 1e-4);
    rag_free(v);
    rag_buf_free(&long_text);
    rag_buf_free(&cut_text);
    emb_model_close(m);
}

static void test_decoder_embedder(void)
{
    const char *p = model_path("models/tiny-qwen2-f32.gguf");
    if (!p) return;
    emb_params ep;
    emb_default_params(&ep);
    ep.pooling = EMB_POOL_LAST;
    emb_model *m;
    rag_err err = {0};
    CHECK_INT(emb_model_open(p, &ep, &m, &err), 0);
    if (!m) return;
    int E = emb_dims(m);
    CHECK_INT(E, 256);
    const char *t[3] = {"alpha beta", "gamma", "alpha beta"};
    float *v = rag_xcalloc((size_t)E * 3, sizeof *v);
    CHECK_INT(emb_embed(m, t, 3, EMB_RAW, 1, v, NULL, &err), 0);
    double same = 0, diff = 0;
    for (int i = 0; i < E; i++) {
        same += fabs(v[i] - v[2 * E + i]);
        diff += fabs(v[i] - v[E + i]);
    }
    CHECK(same < 1e-5); /* the cache is reset between texts */
    CHECK(diff > 1e-2);
    rag_free(v);
    emb_model_close(m);
}

/* Eight texts of different lengths (one token to several dozen) embedded in
 * one call and each alone, on every instruction set the CPU has, for each
 * encoder layout and weight type in the test data; and reranker scores of a
 * batch of passages against each alone. */
static void test_batch_invariance(void)
{
    static const char *const texts[] = {
        "Hello",
        "A somewhat longer sentence about refunds and the time they take to arrive at the bank.",
        "x",
        "Brake pads wear out; replace them every 40,000 km or when the indicator squeals loudly.",
        "the",
        "Who approves an urgent spare parts order when a truck is off the road?",
        "ok then",
        "Leave requests go to the line manager at least two weeks ahead, in writing, with dates "
        "and the name of a colleague who covers; the manager answers within three working days.",
    };
    enum { N = sizeof texts / sizeof *texts };
    static const char *const models[] = {"models/bert-mean-f32.gguf", "models/bert-mean-q8_0.gguf",
                                         "models/bert-cls-f32.gguf", "models/nomic-mean-f32.gguf"};
    static const llm_isa isas[] = {LLM_ISA_SCALAR, LLM_ISA_AVX2, LLM_ISA_AVX512};
    for (size_t mi = 0; mi < sizeof models / sizeof *models; mi++) {
        const char *p = model_path(models[mi]);
        if (!p) return;
        emb_model *m;
        rag_err err = {0};
        CHECK_INT(emb_model_open(p, NULL, &m, &err), 0);
        if (!m) continue;
        int E = emb_dims(m);
        float *all = rag_xcalloc((size_t)E * N, sizeof *all),
              *one = rag_xcalloc((size_t)E, sizeof *one);
        for (size_t k = 0; k < sizeof isas / sizeof *isas; k++) {
            if (!llm_isa_supported(isas[k])) continue;
            llm_isa prev = llm_isa_select(isas[k]);
            CHECK_INT(emb_embed(m, texts, N, EMB_DOCUMENT, 1, all, NULL, &err), 0);
            int same = 0;
            for (int i = 0; i < N; i++) {
                CHECK_INT(emb_embed(m, &texts[i], 1, EMB_DOCUMENT, 1, one, NULL, &err), 0);
                if (!memcmp(one, all + (size_t)i * E, (size_t)E * sizeof *one))
                    same++;
                else
                    printf("    %s %s: text %d differs alone and in the batch\n", models[mi],
                           llm_isa_name(isas[k]), i);
            }
            CHECK_INT(same, N);
            llm_isa_select(prev);
        }
        rag_free(all);
        rag_free(one);
        emb_model_close(m);
    }
    const char *p = model_path("models/bert-rank-f32.gguf");
    if (!p) return;
    emb_model *m;
    rag_err err = {0};
    CHECK_INT(emb_model_open(p, NULL, &m, &err), 0);
    if (!m) return;
    float all[N], one;
    CHECK_INT(emb_rerank(m, "Who approves spare parts?", texts, N, all, &err), 0);
    int same = 0;
    for (int i = 0; i < N; i++) {
        CHECK_INT(emb_rerank(m, "Who approves spare parts?", &texts[i], 1, &one, &err), 0);
        same += !memcmp(&one, &all[i], sizeof one);
    }
    CHECK_INT(same, N);
    emb_model_close(m);
}

int main(void)
{
    RUN(test_refusals);
    RUN(test_prefixes_and_normalization);
    RUN(test_truncation);
    RUN(test_decoder_embedder);
    RUN(test_batch_invariance);
    return test_summary();
}
