/* llm/forward.c: the forward pass of the llama-family decoders, one batch
 * of tokens at a time, top to bottom as the model computes it.
 *
 * Shapes (B tokens in the batch, E = n_embd, H heads of D = head_dim,
 * Hkv KV heads, F = n_ff, V = n_vocab, P = positions in the cache):
 *   x      [B, E]      token embeddings, then the residual stream
 *   q      [B, H*D]    k, v [B, Hkv*D]
 *   cache  [P, Hkv*D]  per layer, F16 like llama.cpp's default
 *   att    [B, H*D]    attention output before the output projection
 *   gate, up [B, F]
 *   logits [1 or B, V]
 * Every product with a weight matrix goes through llm_matmul. */
#include "llm/model_int.h"
#include "base/mem.h"
#include "llm/vecmath.h"

#include <math.h>
#include <string.h>

static void rms_norm(const float *x, const float *w, float *out, int n, float eps)
{
    llm_vec_rmsnorm(x, w, out, n, eps);
}

static void add_bias(float *y, const float *b, int rows, int n)
{
    for (int r = 0; r < rows; r++) llm_vec_add(y + (size_t)r * n, b, n);
}

/* cos/sin of every rotated pair for each token of the batch:
 * rope_cs[t][2i], [2i+1] = cos, sin of pos_t * base^(-2i/n_rot) / scale / freq_i. */
static void rope_table(llm_context *c, int n)
{
    const llm_hparams *hp = &c->m->hp;
    int half = hp->n_rot / 2;
    for (int t = 0; t < n; t++) {
        double pos = (double)(c->n_past + t) / hp->rope_scale;
        float *cs = c->rope_cs + (size_t)t * hp->n_rot;
        for (int i = 0; i < half; i++) {
            double theta = pos * pow(hp->rope_base, -2.0 * i / hp->n_rot);
            if (c->m->rope_freqs) theta /= c->m->rope_freqs[i];
            cs[2 * i] = (float)cos(theta);
            cs[2 * i + 1] = (float)sin(theta);
        }
    }
}

/* Rotates the first n_rot dims of each of n_heads heads of one token. */
static void rope_apply(const llm_hparams *hp, const float *cs, float *v, int n_heads)
{
    int half = hp->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * hp->head_dim;
        for (int i = 0; i < half; i++) {
            int a = hp->rope_kind == LLM_ROPE_NEOX ? i : 2 * i;
            int b = hp->rope_kind == LLM_ROPE_NEOX ? i + half : 2 * i + 1;
            float x0 = x[a], x1 = x[b], co = cs[2 * i], si = cs[2 * i + 1];
            x[a] = x0 * co - x1 * si;
            x[b] = x0 * si + x1 * co;
        }
    }
}

typedef struct attn_job {
    llm_context *c;
    int layer, n;
} attn_job;

/* Causal attention of head h for every token of the batch. */
static void attend_head(void *ctx, int64_t h)
{
    attn_job *j = ctx;
    llm_context *c = j->c;
    const llm_hparams *hp = &c->m->hp;
    int D = hp->head_dim, kvh = (int)h / (hp->n_head / hp->n_head_kv);
    size_t kvd = (size_t)hp->n_head_kv * D, qd = (size_t)hp->n_head * D;
    const uint16_t *K = c->k_cache + (size_t)j->layer * c->kv_layer_elems + (size_t)kvh * D;
    const uint16_t *V = c->v_cache + (size_t)j->layer * c->kv_layer_elems + (size_t)kvh * D;
    float *scores = c->scores + (size_t)h * c->p.n_ctx;
    float scale = 1.0f / sqrtf((float)D);
    float vrow[1024];
    for (int t = 0; t < j->n; t++) {
        const float *q = c->q + (size_t)t * qd + (size_t)h * D;
        float *out = c->att + (size_t)t * qd + (size_t)h * D;
        int n_pos = c->n_past + t + 1; /* causal: positions up to this token's own */
        for (int p = 0; p < n_pos; p++) scores[p] = llm_dot_row(LLM_F16, K + (size_t)p * kvd, q, D);
        llm_vec_softmax(scores, n_pos, scale);
        memset(out, 0, (size_t)D * sizeof *out);
        for (int p = 0; p < n_pos; p++) {
            const uint16_t *vp = V + (size_t)p * kvd;
            for (int d0 = 0; d0 < D; d0 += 1024) { /* head_dim is at most a few hundred */
                int nd = D - d0 < 1024 ? D - d0 : 1024;
                llm_dequant_row(LLM_F16, vp + d0, vrow, nd);
                llm_vec_axpy(out + d0, scores[p], vrow, nd);
            }
        }
    }
}

static void store_kv(llm_context *c, int layer, int n)
{
    const llm_hparams *hp = &c->m->hp;
    size_t kvd = (size_t)hp->n_head_kv * hp->head_dim;
    uint16_t *K = c->k_cache + (size_t)layer * c->kv_layer_elems + (size_t)c->n_past * kvd;
    uint16_t *V = c->v_cache + (size_t)layer * c->kv_layer_elems + (size_t)c->n_past * kvd;
    llm_quantize_row(LLM_F16, c->k, K, (int64_t)(n * kvd));
    llm_quantize_row(LLM_F16, c->v, V, (int64_t)(n * kvd));
}

static void layer_forward(llm_context *c, int l, int n)
{
    const llm_model *m = c->m;
    const llm_hparams *hp = &m->hp;
    const llm_layer *L = &m->layers[l];
    int E = hp->n_embd, D = hp->head_dim, F = hp->n_ff;
    int qd = hp->n_head * D, kvd = hp->n_head_kv * D;

    /* attention: xn = norm(x); q, k, v = xn * Wq, Wk, Wv (+ bias) */
    for (int t = 0; t < n; t++)
        rms_norm(c->x + (size_t)t * E, L->attn_norm, c->xn + (size_t)t * E, E, hp->norm_eps);
    llm_matmul(c->compute, &L->wq, c->xn, n, c->q);
    llm_matmul(c->compute, &L->wk, c->xn, n, c->k);
    llm_matmul(c->compute, &L->wv, c->xn, n, c->v);
    if (L->bq) {
        add_bias(c->q, L->bq, n, qd);
        add_bias(c->k, L->bk, n, kvd);
        add_bias(c->v, L->bv, n, kvd);
    }
    for (int t = 0; t < n; t++) {
        float *q = c->q + (size_t)t * qd, *k = c->k + (size_t)t * kvd;
        if (L->q_norm) { /* qwen3: RMSNorm of each head before RoPE */
            for (int h = 0; h < hp->n_head; h++) rms_norm(q + h * D, L->q_norm, q + h * D, D, hp->norm_eps);
            for (int h = 0; h < hp->n_head_kv; h++) rms_norm(k + h * D, L->k_norm, k + h * D, D, hp->norm_eps);
        }
        const float *cs = c->rope_cs + (size_t)t * hp->n_rot;
        rope_apply(hp, cs, q, hp->n_head);
        rope_apply(hp, cs, k, hp->n_head_kv);
    }
    store_kv(c, l, n);
    attn_job job = {c, l, n};
    llm_parallel_for(c->compute, hp->n_head, attend_head, &job);
    /* x += att * Wo */
    llm_matmul(c->compute, &L->wo, c->att, n, c->xn);
    llm_vec_add(c->x, c->xn, (int64_t)n * E);

    /* feed-forward: x += (silu(xn Wgate) * (xn Wup)) Wdown */
    for (int t = 0; t < n; t++)
        rms_norm(c->x + (size_t)t * E, L->ffn_norm, c->xn + (size_t)t * E, E, hp->norm_eps);
    llm_matmul(c->compute, &L->w_gate, c->xn, n, c->gate);
    llm_matmul(c->compute, &L->w_up, c->xn, n, c->up);
    llm_vec_swiglu(c->gate, c->up, (int64_t)n * F);
    llm_matmul(c->compute, &L->w_down, c->gate, n, c->xn);
    llm_vec_add(c->x, c->xn, (int64_t)n * E);
}

void llm_forward_batch(llm_context *c, const int32_t *tokens, int n)
{
    const llm_model *m = c->m;
    const llm_hparams *hp = &m->hp;
    int E = hp->n_embd;
    for (int t = 0; t < n; t++) /* embeddings: rows of the token matrix */
        llm_dequant_row(m->tok_embd.type,
                        (const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes,
                        c->x + (size_t)t * E, E);
    rope_table(c, n);
    for (int l = 0; l < hp->n_layer; l++) layer_forward(c, l, n);
    c->n_past += n;

    /* logits (or, for embedders, the normalised hidden state) of the last
     * token, or of all of them */
    int first = c->p.logits_all ? 0 : n - 1, rows = n - first;
    float *normed = c->p.embeddings ? c->logits : c->xn;
    for (int t = first; t < n; t++)
        rms_norm(c->x + (size_t)t * E, m->output_norm, normed + (size_t)(t - first) * E, E,
                 hp->norm_eps);
    if (!c->p.embeddings) llm_matmul(c->compute, &m->output, c->xn, rows, c->logits);
}
