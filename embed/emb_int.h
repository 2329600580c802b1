/* embed/emb_int.h: private layout of the embedding module. */
#ifndef RAG_EMBED_EMB_INT_H
#define RAG_EMBED_EMB_INT_H

#include "embed/embed.h"
#include "llm/kernels.h"
#include "llm/llm.h"

typedef enum emb_arch { EMB_BERT, EMB_NOMIC, EMB_DECODER } emb_arch;

typedef struct emb_layer {
    llm_mat wq, wk, wv; /* bert: separate projections */
    llm_mat wqkv;       /* nomic-bert: fused, rows 3*n_embd (q, then k, then v) */
    float *bq, *bk, *bv, *bqkv;
    llm_mat wo;
    float *bo;
    float *attn_norm_w, *attn_norm_b; /* attn_output_norm: after the attention residual */
    llm_mat w_up, w_gate, w_down;     /* w_gate only with SwiGLU (nomic-bert) */
    float *b_up, *b_down;
    float *out_norm_w, *out_norm_b; /* layer_output_norm: after the FFN residual */
} emb_layer;

typedef struct emb_remote emb_remote;

/* How a model computes: its own forward passes (embed/embed.c) or a server
 * (embed/remote.c). Chosen once, when the model is opened; emb_embed,
 * emb_rerank and emb_count_tokens only call through it. */
typedef struct emb_ops {
    const char *name; /* "local" or "remote" */
    size_t (*count_tokens)(const emb_model *m, const char *text, size_t n);
    int (*embed)(emb_model *m, const char *const *texts, size_t n, emb_input kind, int normalize,
                 float *out, uint8_t *truncated, rag_err *err);
    int (*rerank)(emb_model *m, const char *query, const char *const *passages, size_t n,
                  float *scores, rag_err *err);
} emb_ops;

extern const emb_ops emb_local_ops, emb_remote_ops;

struct emb_model {
    const emb_ops *ops;
    emb_arch arch;
    emb_remote *remote; /* a remote server (embed/remote.c): nothing below is loaded */
    llm_gguf *gguf;     /* encoders */
    llm_vocab *vocab;
    llm_model *dec; /* decoders used as embedders */
    llm_context *dctx;
    emb_identity id;
    int n_embd, n_layer, n_head, n_ff, n_ctx;
    float eps, rope_base;
    llm_mat tok_embd, pos_embd; /* pos_embd: bert only */
    float *type0;               /* token type 0 embedding (all inputs use type 0) */
    float *embd_norm_w, *embd_norm_b;
    emb_layer *layers;
    llm_mat cls_w; /* reranker head */
    float *cls_b, *cls_out_w, cls_out_b;
    llm_compute *compute;
    int batch_tokens;
    /* scratch for one packed batch of batch_tokens tokens */
    float *x, *qkv, *att, *tmp, *ffn, *ffn2, *scores;
    float *panels; /* per thread: the panel attention's products pack (rag_xcalloc_lines) */
    size_t panel_floats;
    int max_seq; /* longest sequence the scores buffer holds */
    uint64_t n_tokens_done;
    double seconds;
};

/* One packed batch: sequence s is tokens[start[s], start[s]+len[s]). */
typedef struct emb_batch {
    const int32_t *tokens;
    const int *start, *len;
    int n_seq, n_tokens;
} emb_batch;

/* The encoder forward pass (embed/encoder.c): leaves the final hidden states
 * of every token in m->x [n_tokens x n_embd]. */
void emb_encoder_forward(emb_model *m, const emb_batch *b);

/* L2-normalises v[0..n) in place (a zero vector stays zero). */
void emb_normalize(float *v, int n);

/* Remote models (embed/remote.c). */
void emb_remote_free(emb_remote *r);

#endif
