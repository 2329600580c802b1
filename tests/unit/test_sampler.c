/* Sampling: greedy, reproducibility, the effect of each stage, and that draws
 * follow the softmax distribution. */
#include "base/mem.h"
#include "llm/llm.h"
#include "test.h"

#include <math.h>

static void test_greedy_is_argmax(void)
{
    float logits[5] = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f};
    llm_sampler_params p;
    llm_sampler_default_params(&p);
    p.temperature = 0;
    llm_sampler *s = llm_sampler_new(&p, 5);
    CHECK_INT(llm_sampler_sample(s, logits, NULL, 0), 1);
    llm_sampler_free(s);
    p.temperature = 1.0f;
    p.top_k = 1; /* top-1 is greedy too */
    s = llm_sampler_new(&p, 5);
    for (int i = 0; i < 20; i++)
        CHECK_INT(llm_sampler_sample(s, logits, NULL, 0), 1);
    llm_sampler_free(s);
}

static void test_seed_reproducible(void)
{
    enum { V = 1000 };
    float *logits = rag_xmalloc(V * sizeof *logits);
    for (int i = 0; i < V; i++)
        logits[i] = (float)sin(i * 0.37) * 3;
    llm_sampler_params p;
    llm_sampler_default_params(&p);
    p.top_k = 0;
    p.top_p = 1;
    p.min_p = 0;
    int32_t a[50], b[50], c[50];
    for (int run = 0; run < 3; run++) {
        if (run == 2) p.seed = 12345;
        llm_sampler *s = llm_sampler_new(&p, V);
        for (int i = 0; i < 50; i++)
            (run == 0 ? a : run == 1 ? b : c)[i] = llm_sampler_sample(s, logits, NULL, 0);
        llm_sampler_free(s);
    }
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c, sizeof a) != 0);
    rag_free(logits);
}

static void test_distribution_follows_softmax(void)
{
    float logits[4] = {0.0f, 1.0f, 2.0f, -20.0f};
    llm_sampler_params p;
    llm_sampler_default_params(&p);
    p.top_k = 0;
    p.top_p = 1;
    p.min_p = 0;
    p.temperature = 1.0f;
    llm_sampler *s = llm_sampler_new(&p, 4);
    int counts[4] = {0};
    enum { N = 40000 };
    for (int i = 0; i < N; i++)
        counts[llm_sampler_sample(s, logits, NULL, 0)]++;
    double z = exp(0) + exp(1) + exp(2) + exp(-20);
    for (int i = 0; i < 3; i++) {
        double want = exp(logits[i]) / z, got = (double)counts[i] / N;
        CHECK(fabs(got - want) < 0.01);
    }
    llm_sampler_free(s);
}

static void test_truncations(void)
{
    float logits[6] = {5.0f, 4.9f, 1.0f, 0.5f, 0.0f, -1.0f};
    llm_sampler_params p;
    llm_sampler_default_params(&p);
    p.temperature = 1.0f;
    p.top_k = 0;
    p.min_p = 0;
    p.top_p = 0.5f; /* the best token alone holds ~0.5: tokens 0 and 1 at most */
    llm_sampler *s = llm_sampler_new(&p, 6);
    for (int i = 0; i < 500; i++)
        CHECK(llm_sampler_sample(s, logits, NULL, 0) <= 1);
    llm_sampler_free(s);
    p.top_p = 1;
    p.min_p = 0.2f; /* e^(1-5) < 0.2: only tokens 0 and 1 survive */
    s = llm_sampler_new(&p, 6);
    for (int i = 0; i < 500; i++)
        CHECK(llm_sampler_sample(s, logits, NULL, 0) <= 1);
    llm_sampler_free(s);
    p.min_p = 0;
    p.top_k = 2;
    s = llm_sampler_new(&p, 6);
    for (int i = 0; i < 500; i++)
        CHECK(llm_sampler_sample(s, logits, NULL, 0) <= 1);
    llm_sampler_free(s);
}

static void test_penalties(void)
{
    float logits[3] = {2.0f, 1.9f, 0.0f};
    llm_sampler_params p;
    llm_sampler_default_params(&p);
    p.temperature = 0;
    p.repeat_penalty = 1.5f; /* 2.0 / 1.5 < 1.9: the repeated token loses */
    llm_sampler *s = llm_sampler_new(&p, 3);
    int32_t hist[] = {0, 0, 0};
    CHECK_INT(llm_sampler_sample(s, logits, hist, 3), 1);
    CHECK_INT(llm_sampler_sample(s, logits, NULL, 0), 0); /* no history: no penalty */
    llm_sampler_free(s);
    p.repeat_penalty = 1.0f;
    p.presence_penalty = 0.5f;
    s = llm_sampler_new(&p, 3);
    CHECK_INT(llm_sampler_sample(s, logits, hist, 1), 1);
    llm_sampler_free(s);
    p.presence_penalty = 0;
    p.repeat_last_n = 1; /* only the last token counts */
    p.repeat_penalty = 1.5f;
    int32_t old[] = {0, 2};
    s = llm_sampler_new(&p, 3);
    CHECK_INT(llm_sampler_sample(s, logits, old, 2), 0);
    llm_sampler_free(s);
}

int main(void)
{
    RUN(test_greedy_is_argmax);
    RUN(test_seed_reproducible);
    RUN(test_distribution_follows_softmax);
    RUN(test_truncations);
    RUN(test_penalties);
    return test_summary();
}
