/* llm/model_int.h: private layout of models and contexts (llm/model.c,
 * llm/forward.c). */
#ifndef RAG_LLM_MODEL_INT_H
#define RAG_LLM_MODEL_INT_H

#include "llm/model.h"

#include <pthread.h>

typedef struct llm_layer {
    float *attn_norm;             /* [n_embd] */
    llm_mat wq, wk, wv, wo;       /* q: rows n_head*head_dim; k, v: n_head_kv*head_dim */
    float *bq, *bk, *bv;          /* qwen2 biases, else NULL */
    float *q_norm, *k_norm;       /* qwen3 [head_dim], else NULL */
    float *ffn_norm;              /* [n_embd] */
    llm_mat w_gate, w_up, w_down; /* gate, up: rows n_ff; down: rows n_embd */
} llm_layer;

struct llm_model {
    llm_gguf *gguf;
    llm_vocab *vocab;
    llm_hparams hp;
    llm_mat tok_embd; /* rows n_vocab, cols n_embd */
    llm_mat output;   /* rows n_vocab (tok_embd when tied) */
    float *output_norm;
    float *rope_freqs; /* [n_rot/2] frequency divisors (Llama 3.1), or NULL */
    llm_layer *layers;
    int64_t max_cols; /* widest matrix row, for matmul scratch */
    /* the interleaved matrices' groups (llm_mat.il), in huge pages: made
     * when the first context or batch is (llm_acts_init), under il_mu */
    pthread_mutex_t il_mu;
    int il_done;
    uint8_t *il_mem;
    size_t il_bytes;
};

/* The activations of one forward pass of up to `cap` tokens, and the pool
 * of threads that computes it. A context has one for its own batches; a
 * multi-sequence batch (llm/batch.c) has one for the sequences it steps
 * together. Token t of a pass belongs to the KV cache of seq[t], at
 * position pos[t] there. */
typedef struct llm_acts {
    llm_compute *compute;
    int cap;   /* token rows */
    int n_ctx; /* positions a row of scores holds (the longest cache attended) */
    float *x, *xn, *q, *k, *v, *att, *gate, *up, *rope_cs;
    float *scores;    /* att_rows rows of n_ctx per head */
    int att_rows;     /* LLM_ATT_BLOCK where prompts attend in blocks (cap > 7), else 1 */
    float *att_q;     /* prompts: per KV head, LLM_ATT_BLOCK x its heads' rows of head_dim,
                         the queries gathered, then the outputs */
    float *kv_wide;   /* per KV head: head_dim rows of n_ctx keys (a prompt's), then n_ctx
                         rows of values, as floats */
    float *att_panel; /* per KV head: LLM_GEMM_PANEL x panel_k floats, the products' packing */
    int panel_k;      /* the longest k of an attention product: n_ctx or head_dim */
    float *logits;    /* n_logits x out_width */
    int n_logits;
    llm_context **seq;
    int *pos;
    size_t bytes; /* of the float buffers */
} llm_acts;

/* Prompt tokens of one sequence attend LLM_ATT_BLOCK at a time (forward.c). */
#define LLM_ATT_BLOCK 16

/* The embedding of a token (row `token` of tok_embd) as floats, from the
 * interleaved output matrix when it is the embeddings' (llm/model.c). */
void llm_model_token_row(const llm_model *m, int32_t token, float *y);

/* Allocates acts for m: cap token rows, scores of n_ctx positions, n_logits
 * output rows of out_width floats, and a pool of n_threads (0: all CPUs). */
int llm_acts_init(llm_acts *a, const llm_model *m, int cap, int n_ctx, int n_logits, int out_width,
                  int n_threads, rag_err *err);
void llm_acts_free(llm_acts *a);

struct llm_context {
    const llm_model *m;
    llm_context_params p;
    int n_past;
    int32_t *cached; /* the tokens at positions 0..n_past-1 (n_ctx of room) */
    /* KV cache, half floats: per layer, keys [n_head_kv][n_ctx /
     * LLM_K_CHUNK][head_dim][LLM_K_CHUNK] (llm_k_index: a head's keys are
     * the columns of a matrix, chunk by chunk, so that a decoding token's
     * scores are llm_gemm_nn_f16 on them as they are), values
     * [n_head_kv][n_ctx][head_dim] (llm_kv_index); n_ctx rounded up to a
     * whole chunk */
    uint16_t *k_cache, *v_cache;
    size_t kv_layer_elems;
    llm_acts a;       /* activations of one batch; a.logits holds the output */
    int last_n;       /* tokens of the last decode call */
    int last_batch_n; /* tokens of its last batch */
};

/* Where position pos of KV head h of a layer sits in c's values. Each
 * head's positions are contiguous, so that attention widens a head's whole
 * range to floats in one pass. */
static inline size_t llm_kv_index(const llm_context *c, int layer, int h, int pos)
{
    return (size_t)layer * c->kv_layer_elems +
           ((size_t)h * (size_t)c->p.n_ctx + (size_t)pos) * (size_t)c->m->hp.head_dim;
}

/* Keys are stored LLM_K_CHUNK positions at a time: each chunk holds
 * head_dim rows of LLM_K_CHUNK positions, one after another, so that the
 * keys of a head's first n positions are one run of memory. A decoding
 * token reads them all from memory at every layer (the weights stream
 * through the caches in between); rows n_ctx apart made that 64 runs of 1
 * KB at 512 positions, twice the time of one run of 64 KB on this
 * machine. */
#define LLM_K_CHUNK 256

/* Positions of room in a context's keys and values per head: n_ctx
 * rounded up to a whole chunk. */
static inline size_t llm_kv_room(int n_ctx)
{
    return ((size_t)n_ctx + LLM_K_CHUNK - 1) / LLM_K_CHUNK * LLM_K_CHUNK;
}

/* Where position pos of dimension d of KV head h's keys sits in c's keys
 * at a layer; the positions of one chunk follow one another. */
static inline size_t llm_k_index(const llm_context *c, int layer, int h, int d, int pos)
{
    size_t D = (size_t)c->m->hp.head_dim;
    return (size_t)layer * c->kv_layer_elems + (size_t)h * D * llm_kv_room(c->p.n_ctx) +
           (size_t)(pos / LLM_K_CHUNK) * D * LLM_K_CHUNK + (size_t)d * LLM_K_CHUNK +
           (size_t)(pos % LLM_K_CHUNK);
}

/* One forward pass over a.seq[t], a.pos[t] for t < n (n <= a.cap): appends
 * each token's keys and values to its sequence's cache at its position, and
 * writes into a->logits the output rows of tokens out_first..n-1 (logits,
 * or with embeddings the normalised final hidden states). Each token's
 * result is the same whichever other tokens share the pass, as long as the
 * pass keeps its products on the row kernels (n < LLM_MATMUL_ROWS_MAX + 1). */
void llm_forward(const llm_model *m, llm_acts *a, const int32_t *tokens, int n, int out_first,
                 int embeddings);

/* The forward pass of one batch of context c: tokens[0..n) at positions
 * n_past..n_past+n-1, n <= n_batch; writes logits of the last token, or of
 * all when logits_all. */
void llm_forward_batch(llm_context *c, const int32_t *tokens, int n);

#endif
