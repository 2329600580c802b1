/* llm/model.h (behind llm/llm.h): decoder models (llama, qwen2, qwen3
 * architectures) loaded from GGUF, contexts with a KV cache, and the forward
 * pass.
 *
 * A model maps its file: weights are used in place, never copied. A context
 * owns what one conversation needs: the KV cache (sized at creation), the
 * activations of a batch, the logits; after creation, decoding allocates
 * nothing. A model may serve several contexts; a context is used by one
 * thread at a time. */
#ifndef RAG_LLM_MODEL_H
#define RAG_LLM_MODEL_H

#include "base/err.h"
#include "llm/gguf.h"
#include "llm/matmul.h"
#include "llm/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

typedef enum llm_rope_kind {
    LLM_ROPE_NORM, /* rotate adjacent pairs (x[2i], x[2i+1]): llama */
    LLM_ROPE_NEOX, /* rotate halves (x[i], x[i + n_rot/2]): qwen2, qwen3 */
} llm_rope_kind;

typedef struct llm_hparams {
    char arch[32]; /* general.architecture */
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
    int head_dim;     /* attention.key_length, else n_embd / n_head */
    int n_rot;        /* rope.dimension_count, else head_dim */
    float norm_eps;   /* attention.layer_norm_rms_epsilon */
    float rope_base;  /* rope.freq_base (10000 when absent) */
    float rope_scale; /* position divisor from rope.scaling.factor (linear), 1 otherwise */
    llm_rope_kind rope_kind;
    int has_qkv_bias; /* qwen2 */
    int has_qk_norm;  /* qwen3: RMSNorm per head on q and k before RoPE */
    int tied_output;  /* no output.weight: the token embedding is the output matrix */
} llm_hparams;

typedef struct llm_model llm_model;

/* Opens a decoder model: maps the file, reads the hyperparameters, checks
 * every tensor the architecture needs (present, shape, a type the kernels
 * compute), builds the tokenizer. Errors name the key or tensor. */
int llm_model_open(const char *path, llm_model **out, rag_err *err);
void llm_model_close(llm_model *m);

const llm_hparams *llm_model_hparams(const llm_model *m);
const llm_vocab *llm_model_vocab(const llm_model *m);
const llm_gguf *llm_model_gguf(const llm_model *m);
/* Bytes of weights the forward pass reads per token (all matrices once). */
size_t llm_model_weight_bytes(const llm_model *m);
/* Bytes of the matrices (as the file has them) interleaved for the integer
 * kernels when the model's first context was made (0 before, and where
 * the CPU or the types have none: llm/qgemm.h); decoding several sequences
 * scales with the share. */
size_t llm_model_interleaved_bytes(const llm_model *m);

/* Architectures this program runs ("llama", "qwen2", "qwen3"). */
int llm_arch_supported(const char *arch);

typedef struct llm_context_params {
    int n_ctx;      /* positions in the KV cache (0: min(n_ctx_train, 4096)) */
    int n_batch;    /* tokens per forward pass (0: 512) */
    int n_threads;  /* 0: all online CPUs */
    int logits_all; /* keep the logits of every position of a batch, not just the last */
    int embeddings; /* produce the final normalised hidden states instead of logits
                       (decoder models used as embedders) */
} llm_context_params;

void llm_context_default_params(llm_context_params *p);

typedef struct llm_context llm_context;

int llm_context_new(const llm_model *m, const llm_context_params *p, llm_context **out,
                    rag_err *err);
void llm_context_free(llm_context *c);

int llm_context_n_ctx(const llm_context *c);
/* Tokens in the KV cache. */
int llm_context_n_past(const llm_context *c);
/* Forgets everything after the first n_keep positions (0: empty cache). */
void llm_context_truncate(llm_context *c, int n_keep);
/* Prompt-prefix reuse: keeps the cached positions that hold the same tokens
 * as tokens[0..n) (at most n - 1, so that the last token is decoded again
 * and gives logits), forgets the rest, and returns how many were kept; the
 * caller then decodes tokens[kept..n). Requests that share a system prompt,
 * a template's opening or earlier turns skip computing them again. */
int llm_context_reuse(llm_context *c, const int32_t *tokens, int n);
/* A prompt's tokens give the same bits whatever passes it is cut into (the
 * prefix cache's promise: an answer does not depend on what a slot held)
 * as long as every pass has at least LLM_PASS_MIN tokens: a pass of fewer
 * goes by the row kernels, whose rounding differs (llm/matmul.h). So
 * llm_decode and the batcher never leave a last pass shorter than that,
 * and a caller that reuses a cache leaves at least LLM_PASS_MIN tokens to
 * compute (all of a shorter prompt: its single pass goes by the row
 * kernels wherever it is computed). llm_pass_size is the next pass's size
 * for `remaining` tokens and passes of at most `cap`. */
#define LLM_PASS_MIN (LLM_MATMUL_ROWS_MAX + 1)
int llm_pass_size(int remaining, int cap);
/* Makes dst hold what src holds (its cached tokens and their keys and
 * values), as if it had decoded them itself: one prompt computed once can
 * start several sequences. dst has no logits until its next decode. Both
 * contexts must be of the same model, and dst must have room for src's
 * positions (RAG_ERR_LIMIT otherwise). */
int llm_context_copy(llm_context *dst, const llm_context *src, rag_err *err);
/* Bytes allocated for the KV cache and for scratch (activations, logits). */
size_t llm_context_kv_bytes(const llm_context *c);
size_t llm_context_scratch_bytes(const llm_context *c);

/* Runs tokens[0..n) at positions n_past.. through the model (in batches of
 * n_batch), appending to the KV cache. Fails with RAG_ERR_LIMIT, before
 * computing anything, when the cache would overflow, and RAG_ERR_INVALID for
 * a token id outside the vocabulary. */
int llm_decode(llm_context *c, const int32_t *tokens, int n, rag_err *err);

/* Logits (n_vocab floats) of position i of the last llm_decode call: i is
 * n-1 (the last token) unless the context keeps all logits (then any
 * position of the call's last batch). NULL otherwise, or in embeddings mode. */
const float *llm_context_logits(const llm_context *c, int i);
/* In embeddings mode: the final hidden state (n_embd floats, after the
 * output norm) of position i of the last call, under the same rules. */
const float *llm_context_embedding(const llm_context *c, int i);

#endif
