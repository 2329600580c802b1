/* llm/model_int.h: private layout of models and contexts (llm/model.c,
 * llm/forward.c). */
#ifndef RAG_LLM_MODEL_INT_H
#define RAG_LLM_MODEL_INT_H

#include "llm/model.h"

typedef struct llm_layer {
    float *attn_norm;                /* [n_embd] */
    llm_mat wq, wk, wv, wo;          /* q: rows n_head*head_dim; k, v: n_head_kv*head_dim */
    float *bq, *bk, *bv;             /* qwen2 biases, else NULL */
    float *q_norm, *k_norm;          /* qwen3 [head_dim], else NULL */
    float *ffn_norm;                 /* [n_embd] */
    llm_mat w_gate, w_up, w_down;    /* gate, up: rows n_ff; down: rows n_embd */
} llm_layer;

struct llm_model {
    llm_gguf *gguf;
    llm_vocab *vocab;
    llm_hparams hp;
    llm_mat tok_embd;  /* rows n_vocab, cols n_embd */
    llm_mat output;    /* rows n_vocab (tok_embd when tied) */
    float *output_norm;
    float *rope_freqs; /* [n_rot/2] frequency divisors (Llama 3.1), or NULL */
    llm_layer *layers;
    int64_t max_cols;  /* widest matrix row, for matmul scratch */
};

struct llm_context {
    const llm_model *m;
    llm_context_params p;
    llm_compute *compute;
    int n_past;
    int32_t *cached; /* the tokens at positions 0..n_past-1 (n_ctx of room) */
    /* KV cache: per layer, [n_ctx][n_head_kv][head_dim] half floats */
    uint16_t *k_cache, *v_cache;
    size_t kv_layer_elems;
    /* activations of one batch */
    float *x, *xn, *q, *k, *v, *att, *gate, *up, *rope_cs, *scores;
    float *logits;    /* n_logits x n_vocab (x n_embd in embeddings mode) */
    int n_logits;     /* rows held by logits */
    int last_n;       /* tokens of the last decode call */
    int last_batch_n; /* tokens of its last batch */
    size_t scratch_bytes;
};

/* The forward pass of one batch (llm/forward.c): tokens[0..n) at positions
 * n_past..n_past+n-1, n <= n_batch; writes logits of the last token, or of
 * all when logits_all. */
void llm_forward_batch(llm_context *c, const int32_t *tokens, int n);

#endif
