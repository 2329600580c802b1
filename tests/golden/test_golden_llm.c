/* Golden tests of the decoder models against llama.cpp's reference outputs
 * in $RAG_TESTDATA (manifest.json, cases "logits" and "greedy"), at the
 * tolerances of the test data README:
 *   logits, float weights (F32/F16/BF16):  cosine >= 0.9999 per row, argmax
 *                                          equal where the reference margin >= 0.05
 *   logits, quantized weights:             cosine >= 0.995, argmax equal
 *                                          where the margin >= 0.2
 *   greedy: the prompt tokenizes to prompt_tokens exactly; generated tokens
 *           equal up to the first step whose reference margin is < 0.02. */
#include "base/file.h"
#include "base/mem.h"
#include "llm/llm.h"
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
    if (rag_file_read(path, 0, &text, NULL, &err)) {
        printf("    %s\n", err.msg);
        return NULL;
    }
    cJSON *j = cJSON_Parse(text);
    rag_free(text);
    return j;
}

static int all_float_weights(const llm_gguf *g)
{
    for (size_t i = 0; i < llm_gguf_n_tensors(g); i++) {
        llm_dtype t = llm_gguf_tensor(g, i)->type;
        if (t != LLM_F32 && t != LLM_F16 && t != LLM_BF16) return 0;
    }
    return 1;
}

static void top2(const float *v, int n, int *arg, float *margin)
{
    int a = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[a]) a = i;
    float second = -INFINITY;
    for (int i = 0; i < n; i++)
        if (i != a && v[i] > second) second = v[i];
    *arg = a;
    *margin = v[a] - second;
}

static void test_logits(void)
{
    const char *dir = test_data_dir();
    if (!dir) return;
    cJSON *man = manifest(dir);
    CHECK(man != NULL);
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(man, "logits"))
    {
        const char *model = cJSON_GetObjectItem(c, "model")->valuestring;
        char path[1024], ref_path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, model);
        snprintf(ref_path, sizeof ref_path, "%s/%s", dir,
                 cJSON_GetObjectItem(c, "logits")->valuestring);
        int n_vocab = cJSON_GetObjectItem(c, "n_vocab")->valueint;
        cJSON *toks = cJSON_GetObjectItem(c, "tokens");
        int n = cJSON_GetArraySize(toks);
        int32_t *ids = rag_xcalloc((size_t)n, sizeof *ids);
        for (int i = 0; i < n; i++)
            ids[i] = cJSON_GetArrayItem(toks, i)->valueint;
        rag_err err = {0};
        llm_model *m = NULL;
        llm_context *ctx = NULL;
        char *ref = NULL;
        size_t ref_len = 0;
        int rc = llm_model_open(path, &m, &err);
        if (!rc) {
            llm_context_params cp;
            llm_context_default_params(&cp);
            cp.n_ctx = cp.n_batch = n;
            cp.logits_all = 1;
            rc = llm_context_new(m, &cp, &ctx, &err);
        }
        if (!rc) rc = llm_decode(ctx, ids, n, &err);
        if (!rc) rc = rag_file_read(ref_path, 0, &ref, &ref_len, &err);
        if (rc) {
            printf("    %s: %s\n", model, err.msg);
            test_case_failed = 1;
        } else {
            CHECK_INT(ref_len, (size_t)n * n_vocab * sizeof(float));
            CHECK_INT(llm_model_hparams(m)->n_vocab, n_vocab);
            int strict = all_float_weights(llm_model_gguf(m));
            double min_cos = strict ? 0.9999 : 0.995, margin_need = strict ? 0.05 : 0.2, worst = 1;
            int bad_argmax = 0;
            for (int i = 0; i < n && ref_len == (size_t)n * n_vocab * sizeof(float); i++) {
                const float *r = (const float *)ref + (size_t)i * n_vocab;
                const float *o = llm_context_logits(ctx, i);
                double dot = 0, nr = 0, no = 0;
                for (int k = 0; k < n_vocab; k++) {
                    dot += (double)r[k] * o[k];
                    nr += (double)r[k] * r[k];
                    no += (double)o[k] * o[k];
                }
                double cosv = dot / sqrt(nr * no);
                if (cosv < worst) worst = cosv;
                int ar, ao;
                float mr, mo;
                top2(r, n_vocab, &ar, &mr);
                top2(o, n_vocab, &ao, &mo);
                if (mr >= margin_need && ar != ao) bad_argmax++;
            }
            printf("    %-34s worst row cosine %.6f (need %.4f), argmax mismatches %d\n", model,
                   worst, min_cos, bad_argmax);
            CHECK(worst >= min_cos);
            CHECK_INT(bad_argmax, 0);
        }
        rag_free(ref);
        rag_free(ids);
        llm_context_free(ctx);
        llm_model_close(m);
    }
    cJSON_Delete(man);
}

static void test_greedy(void)
{
    const char *dir = test_data_dir();
    if (!dir) return;
    cJSON *man = manifest(dir);
    CHECK(man != NULL);
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(man, "greedy"))
    {
        const char *model = cJSON_GetObjectItem(c, "model")->valuestring;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, model);
        const char *text = cJSON_GetObjectItem(c, "prompt_text")->valuestring;
        int add_special = cJSON_IsTrue(cJSON_GetObjectItem(c, "add_special"));
        cJSON *pt = cJSON_GetObjectItem(c, "prompt_tokens"),
              *gt = cJSON_GetObjectItem(c, "generated_tokens"),
              *mg = cJSON_GetObjectItem(c, "margins");
        rag_err err = {0};
        llm_model *m = NULL;
        llm_context *ctx = NULL;
        llm_tokens toks = {0};
        int rc = llm_model_open(path, &m, &err);
        if (!rc)
            rc = llm_tokenize(llm_model_vocab(m), text, strlen(text), add_special, 0, &toks, &err);
        if (rc) {
            printf("    %s: %s\n", model, err.msg);
            test_case_failed = 1;
            llm_model_close(m);
            continue;
        }
        int same = (int)toks.n == cJSON_GetArraySize(pt);
        for (size_t i = 0; same && i < toks.n; i++)
            same = toks.v[i] == cJSON_GetArrayItem(pt, (int)i)->valueint;
        if (!same) printf("    %s: prompt tokens differ from the reference\n", model);
        CHECK(same);
        llm_context_params cp;
        llm_context_default_params(&cp);
        cp.n_ctx = 128;
        rc = llm_context_new(m, &cp, &ctx, &err);
        int n_gen = cJSON_GetArraySize(gt), checked = 0, ok_all = 1;
        if (!rc) rc = llm_decode(ctx, toks.v, (int)toks.n, &err);
        for (int i = 0; !rc && i < n_gen; i++) {
            /* logits of the last token decoded: the prompt's last, then the single token */
            const float *lg = llm_context_logits(ctx, i == 0 ? (int)toks.n - 1 : 0);
            int arg = 0;
            for (int k = 1; k < llm_model_hparams(m)->n_vocab; k++)
                if (lg[k] > lg[arg]) arg = k;
            int want = cJSON_GetArrayItem(gt, i)->valueint;
            if (arg != want) {
                printf("    %s: step %d: token %d, reference %d\n", model, i, arg, want);
                ok_all = 0;
                break;
            }
            checked++;
            if (cJSON_GetArrayItem(mg, i)->valuedouble < 0.02)
                break; /* a near tie: stop comparing */
            int32_t t = want;
            rc = llm_decode(ctx, &t, 1, &err);
        }
        if (rc) printf("    %s: %s\n", model, err.msg);
        CHECK_INT(rc, 0);
        CHECK(ok_all);
        printf("    %-34s %d of %d generated tokens compared, all equal: %s\n", model, checked,
               n_gen, ok_all ? "yes" : "no");
        llm_tokens_free(&toks);
        llm_context_free(ctx);
        llm_model_close(m);
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
        RUN(test_logits);
    }
    RUN(test_greedy);
    return test_summary();
}
