/* Golden tests of embeddings and reranking against llama.cpp's references
 * ($RAG_TESTDATA manifest "embeddings" and "rerank"), at the README's
 * tolerances: F32 models cosine >= 0.9999 and norm within 0.1 %, quantized
 * cosine >= 0.999; rerank scores within 1e-3 and the same ranking. Also:
 * vectors computed in one batch equal those computed one text at a time. */
#include "base/file.h"
#include "base/mem.h"
#include "embed/embed.h"
#include "llm/qgemm.h"
#include "../unit/test.h"

#include <cJSON.h>
#include <math.h>

static cJSON *manifest(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *text;
    rag_err err = {0};
    if (rag_file_read(path, 0, &text, NULL, &err)) return NULL;
    cJSON *j = cJSON_Parse(text);
    rag_free(text);
    return j;
}

static double cosine(const float *a, const float *b, int n, double *na, double *nb)
{
    double d = 0, x = 0, y = 0;
    for (int i = 0; i < n; i++)
        d += (double)a[i] * b[i], x += (double)a[i] * a[i], y += (double)b[i] * b[i];
    *na = sqrt(x);
    *nb = sqrt(y);
    return d / (*na * *nb);
}

static int same_tokens(const llm_tokens *t, cJSON *want)
{
    if ((int)t->n != cJSON_GetArraySize(want)) return 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i] != cJSON_GetArrayItem(want, (int)i)->valueint) return 0;
    return 1;
}

static void test_embeddings(void)
{
    const char *dir = test_data_dir();
    if (!dir) return;
    cJSON *man = manifest(dir), *c;
    CHECK(man != NULL);
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(man, "embeddings"))
    {
        const char *model = cJSON_GetObjectItem(c, "model")->valuestring;
        char path[1024], ref_path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, model);
        snprintf(ref_path, sizeof ref_path, "%s/%s", dir,
                 cJSON_GetObjectItem(c, "embeddings")->valuestring);
        cJSON *texts = cJSON_GetObjectItem(c, "texts"), *toks = cJSON_GetObjectItem(c, "tokens");
        int n = cJSON_GetArraySize(texts);
        emb_model *m;
        rag_err err = {0};
        if (emb_model_open(path, NULL, &m, &err)) {
            printf("    %s: %s\n", model, err.msg);
            test_case_failed = 1;
            continue;
        }
        int E = emb_dims(m);
        const char **tv = rag_xcalloc((size_t)n, sizeof *tv);
        for (int i = 0; i < n; i++) {
            tv[i] = cJSON_GetArrayItem(texts, i)->valuestring;
            llm_tokens t = {0};
            CHECK_INT(llm_tokenize(emb_vocab(m), tv[i], strlen(tv[i]), 1, 0, &t, &err), 0);
            if (!same_tokens(&t, cJSON_GetArrayItem(toks, i))) {
                printf("    %s: tokens of text %d differ\n", model, i);
                test_case_failed = 1;
            }
            llm_tokens_free(&t);
        }
        float *got = rag_xcalloc((size_t)n * E, sizeof *got),
              *one = rag_xcalloc((size_t)E, sizeof *one);
        char *ref = NULL;
        size_t ref_len = 0;
        CHECK_INT(emb_embed(m, tv, (size_t)n, EMB_RAW, 0, got, NULL, &err), 0);
        CHECK_INT(rag_file_read(ref_path, 0, &ref, &ref_len, &err), 0);
        CHECK_INT(ref_len, (size_t)n * E * sizeof(float));
        int quantized = strstr(model, "f32") == NULL;
        double worst = 1, worst_norm = 0, worst_batch = 1;
        for (int i = 0; i < n && ref_len == (size_t)n * E * sizeof(float); i++) {
            double na, nb;
            double cs =
                cosine(got + (size_t)i * E, (const float *)ref + (size_t)i * E, E, &na, &nb);
            if (cs < worst) worst = cs;
            if (fabs(na / nb - 1) > worst_norm) worst_norm = fabs(na / nb - 1);
            /* the same text alone */
            CHECK_INT(emb_embed(m, &tv[i], 1, EMB_RAW, 0, one, NULL, &err), 0);
            cs = cosine(one, got + (size_t)i * E, E, &na, &nb);
            if (cs < worst_batch) worst_batch = cs;
        }
        printf(
            "    %-32s %d texts: worst cosine %.6f, norm off by %.4f %%, batched vs single %.7f\n",
            model, n, worst, worst_norm * 100, worst_batch);
        CHECK(worst >= (quantized ? 0.999 : 0.9999));
        if (!quantized) CHECK(worst_norm <= 0.001);
        CHECK(worst_batch >= 0.99999);
        rag_free(ref);
        rag_free(got);
        rag_free(one);
        rag_free(tv);
        emb_model_close(m);
    }
    cJSON_Delete(man);
}

static void test_rerank(void)
{
    const char *dir = test_data_dir();
    if (!dir) return;
    cJSON *man = manifest(dir), *c;
    CHECK(man != NULL);
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(man, "rerank"))
    {
        const char *model = cJSON_GetObjectItem(c, "model")->valuestring;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, model);
        emb_model *m;
        rag_err err = {0};
        if (emb_model_open(path, NULL, &m, &err)) {
            printf("    %s: %s\n", model, err.msg);
            test_case_failed = 1;
            continue;
        }
        CHECK(emb_is_reranker(m));
        cJSON *pairs = cJSON_GetObjectItem(c, "pairs"), *p;
        int n = cJSON_GetArraySize(pairs), k = 0;
        float *want = rag_xcalloc((size_t)n, sizeof *want),
              *got = rag_xcalloc((size_t)n, sizeof *got);
        double worst = 0;
        cJSON_ArrayForEach(p, pairs)
        {
            const char *q = cJSON_GetObjectItem(p, "query")->valuestring;
            const char *d = cJSON_GetObjectItem(p, "document")->valuestring;
            llm_tokens t = {0};
            CHECK_INT(llm_tokenize_pair(emb_vocab(m), q, strlen(q), d, strlen(d), &t, &err), 0);
            CHECK(same_tokens(&t, cJSON_GetObjectItem(p, "tokens")));
            llm_tokens_free(&t);
            want[k] = (float)cJSON_GetObjectItem(p, "score")->valuedouble;
            CHECK_INT(emb_rerank(m, q, &d, 1, &got[k], &err), 0);
            if (fabs(got[k] - want[k]) > worst) worst = fabs(got[k] - want[k]);
            k++;
        }
        int order_ok = 1;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if ((want[i] < want[j]) != (got[i] < got[j])) order_ok = 0;
        printf("    %-32s %d pairs: worst score difference %.6f, ranking equal: %s\n", model, n,
               worst, order_ok ? "yes" : "no");
        CHECK(worst <= 1e-3);
        CHECK(order_ok);
        rag_free(want);
        rag_free(got);
        emb_model_close(m);
    }
    cJSON_Delete(man);
}

int main(void)
{
    /* every prompt path the dispatcher can pick: the integer kernels of
     * each instruction set this CPU has, and float */
    for (int p = 0; p < LLM_QGEMM_PATHS; p++) { /* the best last: it stays chosen */
        if (!llm_qgemm_supported((llm_qgemm_path)p)) continue;
        llm_qgemm_select((llm_qgemm_path)p);
        printf("    prompt path %s\n", llm_qgemm_name((llm_qgemm_path)p));
        RUN(test_embeddings);
        RUN(test_rerank);
    }
    return test_summary();
}
