/* llm/sampler.h (behind llm/llm.h): choosing the next token from logits.
 *
 * The chain, in order: repetition penalty (over the last repeat_last_n
 * tokens: positive logits divided, negative multiplied, as llama.cpp does),
 * presence and frequency penalties, then greedy when temperature <= 0;
 * otherwise top-k, min-p (relative to the best probability), temperature,
 * top-p (nucleus) over what is left, and a draw from a seeded generator: the
 * same seed and inputs give the same tokens. */
#ifndef RAG_LLM_SAMPLER_H
#define RAG_LLM_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct llm_sampler_params {
    float temperature;       /* <= 0: greedy (default 0.8) */
    int top_k;               /* <= 0: off (default 40) */
    float top_p;             /* >= 1: off (default 0.95) */
    float min_p;             /* <= 0: off (default 0.05) */
    float repeat_penalty;    /* 1: off (default 1.0) */
    int repeat_last_n;       /* tokens looked back for penalties (default 64) */
    float presence_penalty;  /* subtracted once per seen token (default 0) */
    float frequency_penalty; /* subtracted per occurrence (default 0) */
    uint64_t seed;           /* default 0xC0FFEE */
} llm_sampler_params;

void llm_sampler_default_params(llm_sampler_params *p);

typedef struct llm_sampler llm_sampler;

llm_sampler *llm_sampler_new(const llm_sampler_params *p, int32_t n_vocab);
void llm_sampler_free(llm_sampler *s);

/* The greedy choice: the first index of the largest logit (NaN never
 * chosen), vectorized (llm_vec_argmax). What the sampler takes at
 * temperature 0. */
int32_t llm_greedy(const float *logits, int32_t n_vocab);

/* The next token. `history` holds the tokens so far (prompt and
 * generation); logits are not modified. */
int32_t llm_sampler_sample(llm_sampler *s, const float *logits, const int32_t *history,
                           size_t n_history);

#endif
