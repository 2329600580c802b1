/* llm/sampler.c: the sampling chain described in llm/sampler.h. Scratch
 * (candidates, counts) is allocated with the sampler, so sampling a token
 * allocates nothing. */
#include "llm/sampler.h"
#include "llm/vecmath.h"
#include "base/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    int32_t id;
    float logit;
} cand;

struct llm_sampler {
    llm_sampler_params p;
    int32_t n_vocab;
    float *work;     /* logits after penalties */
    cand *cands;     /* candidates, best first */
    uint16_t *count; /* occurrences in the penalty window */
    uint64_t rng[4]; /* xoshiro256** state */
};

void llm_sampler_default_params(llm_sampler_params *p)
{
    *p = (llm_sampler_params){.temperature = 0.8f,
                              .top_k = 40,
                              .top_p = 0.95f,
                              .min_p = 0.05f,
                              .repeat_penalty = 1.0f,
                              .repeat_last_n = 64,
                              .seed = 0xC0FFEE};
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(llm_sampler *s)
{
    uint64_t *r = s->rng, out = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 45);
    return out;
}

llm_sampler *llm_sampler_new(const llm_sampler_params *p, int32_t n_vocab)
{
    llm_sampler *s = rag_xcalloc(1, sizeof *s);
    if (p)
        s->p = *p;
    else
        llm_sampler_default_params(&s->p);
    s->n_vocab = n_vocab;
    s->work = rag_xcalloc((size_t)n_vocab, sizeof *s->work);
    s->cands = rag_xcalloc((size_t)n_vocab, sizeof *s->cands);
    s->count = rag_xcalloc((size_t)n_vocab, sizeof *s->count);
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix(&x);
    return s;
}

void llm_sampler_free(llm_sampler *s)
{
    if (!s) return;
    rag_free(s->work);
    rag_free(s->cands);
    rag_free(s->count);
    rag_free(s);
}

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id - y->id; /* ties: lower id first, for reproducibility */
}

static int has_penalties(const llm_sampler_params *p)
{
    return p->repeat_penalty != 1.0f || p->presence_penalty != 0 || p->frequency_penalty != 0;
}

static void apply_penalties(llm_sampler *s, const int32_t *hist, size_t n_hist)
{
    const llm_sampler_params *p = &s->p;
    if (!has_penalties(p)) return;
    size_t from = p->repeat_last_n >= 0 && n_hist > (size_t)p->repeat_last_n
                      ? n_hist - (size_t)p->repeat_last_n
                      : 0;
    for (size_t i = from; i < n_hist; i++)
        if (hist[i] >= 0 && hist[i] < s->n_vocab && s->count[hist[i]] < UINT16_MAX)
            s->count[hist[i]]++;
    for (size_t i = from; i < n_hist; i++) {
        int32_t id = hist[i];
        if (id < 0 || id >= s->n_vocab || !s->count[id]) continue;
        float *l = &s->work[id];
        if (p->repeat_penalty != 1.0f)
            *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= p->presence_penalty + p->frequency_penalty * (float)s->count[id];
        s->count[id] = 0; /* each distinct token once; also resets for the next call */
    }
}

int32_t llm_greedy(const float *logits, int32_t n_vocab)
{
    return (int32_t)llm_vec_argmax(logits, n_vocab);
}

int32_t llm_sampler_sample(llm_sampler *s, const float *logits, const int32_t *history,
                           size_t n_history)
{
    const llm_sampler_params *p = &s->p;
    int32_t n = s->n_vocab;
    if (p->temperature <= 0 && !has_penalties(p)) /* greedy, from the logits as they are */
        return llm_greedy(logits, n);
    memcpy(s->work, logits, (size_t)n * sizeof *s->work);
    apply_penalties(s, history, n_history);
    if (p->temperature <= 0) return llm_greedy(s->work, n);
    /* candidates: the top_k best (a min-heap of k), then those within min_p
     * of the best (prob >= min_p * p_max  <=>  logit >= max + T ln min_p),
     * so that only a handful are ever sorted */
    size_t k = p->top_k > 0 && p->top_k < n ? (size_t)p->top_k : (size_t)n, m = 0;
    for (int32_t i = 0; i < n; i++) {
        cand c = {i, s->work[i]};
        if (m < k) {
            size_t j = m++;
            while (j && s->cands[(j - 1) / 2].logit > c.logit) { /* sift up */
                s->cands[j] = s->cands[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            s->cands[j] = c;
        } else if (c.logit > s->cands[0].logit) { /* replace the worst, sift down */
            size_t j = 0;
            for (;;) {
                size_t a = 2 * j + 1, b = a + 1, w = j;
                float wl = c.logit;
                if (a < m && s->cands[a].logit < wl) w = a, wl = s->cands[a].logit;
                if (b < m && s->cands[b].logit < wl) w = b;
                if (w == j) break;
                s->cands[j] = s->cands[w];
                j = w;
            }
            s->cands[j] = c;
        }
    }
    float mx = -INFINITY;
    for (size_t i = 0; i < m; i++)
        if (s->cands[i].logit > mx) mx = s->cands[i].logit;
    if (p->min_p > 0 && p->min_p < 1) {
        float floor = mx + p->temperature * logf(p->min_p);
        size_t w = 0;
        for (size_t i = 0; i < m; i++)
            if (s->cands[i].logit >= floor) s->cands[w++] = s->cands[i];
        m = w;
    }
    qsort(s->cands, m, sizeof *s->cands, cmp_cand);
    /* probabilities at temperature; top-p cuts the tail */
    double sum = 0;
    for (size_t i = 0; i < m; i++) {
        s->work[i] = expf((s->cands[i].logit - mx) / p->temperature); /* work reused */
        sum += s->work[i];
    }
    size_t keep = m;
    if (p->top_p < 1.0f) {
        double acc = 0;
        for (size_t i = 0; i < m; i++) {
            acc += s->work[i] / sum;
            if (acc >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double total = 0;
    for (size_t i = 0; i < keep; i++)
        total += s->work[i];
    double r = (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0) * total;
    for (size_t i = 0; i < keep; i++) {
        r -= s->work[i];
        if (r < 0) return s->cands[i].id;
    }
    return s->cands[keep - 1].id;
}
