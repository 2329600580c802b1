/* embed/encoder.c: the forward pass of BERT-style encoders over a packed
 * batch of sequences, top to bottom.
 *
 * Shapes (T tokens in the batch, E = n_embd, H heads of D = E/H, F = n_ff):
 *   x    [T, E]    embeddings, then the hidden states
 *   qkv  [T, 3E]   q | k | v of each token
 *   att  [T, E]    attention output (heads side by side)
 *   ffn  [T, F]    up (and gate, in ffn2) projections
 * Attention is bidirectional and stays inside each sequence; positions
 * restart at 0 for each sequence. bert adds learned absolute positions and
 * uses GELU; nomic-bert rotates q and k (NEOX RoPE) and uses SwiGLU. Both
 * normalise after each residual (post-LayerNorm). */
#include "embed/emb_int.h"
#include "base/mem.h"
#include "llm/kernels.h"

#include <math.h>
#include <string.h>

static void embed_tokens(emb_model *m, const emb_batch *b)
{
    int E = m->n_embd;
    float *row = m->tmp;
    for (int s = 0; s < b->n_seq; s++)
        for (int p = 0; p < b->len[s]; p++) {
            int t = b->start[s] + p;
            float *x = m->x + (size_t)t * E;
            llm_dequant_row(m->tok_embd.type,
                            (const uint8_t *)m->tok_embd.data +
                                (size_t)b->tokens[t] * m->tok_embd.row_bytes,
                            x, E);
            if (m->pos_embd.data) {
                llm_dequant_row(
                    m->pos_embd.type,
                    (const uint8_t *)m->pos_embd.data + (size_t)p * m->pos_embd.row_bytes, row, E);
                llm_vec_add(x, row, E);
            }
            if (m->type0) llm_vec_add(x, m->type0, E);
            llm_vec_layernorm(x, m->embd_norm_w, m->embd_norm_b, x, E, m->eps);
        }
}

static void add_bias_rows(float *y, const float *b, int rows, int n, int stride)
{
    if (!b) return;
    for (int r = 0; r < rows; r++)
        llm_vec_add(y + (size_t)r * stride, b, n);
}

/* NEOX RoPE on the first D dims of each head of q and k (nomic-bert). */
static void rope_batch(emb_model *m, const emb_batch *b)
{
    int E = m->n_embd, H = m->n_head, D = E / H, half = D / 2;
    for (int s = 0; s < b->n_seq; s++)
        for (int p = 0; p < b->len[s]; p++) {
            float *row = m->qkv + (size_t)(b->start[s] + p) * 3 * E;
            for (int i = 0; i < half; i++) {
                double th = p * pow(m->rope_base, -2.0 * i / D);
                float c = (float)cos(th), sn = (float)sin(th);
                for (int h = 0; h < 2 * H; h++) { /* the q heads, then the k heads */
                    float *x = row + (size_t)h * D;
                    float x0 = x[i], x1 = x[i + half];
                    x[i] = x0 * c - x1 * sn;
                    x[i + half] = x0 * sn + x1 * c;
                }
            }
        }
}

typedef struct attn_job {
    emb_model *m;
    const emb_batch *b;
    int n_slots;
} attn_job;

/* Worker slot `slot` takes the (sequence, head) pairs slot, slot + n_slots,
 * ... and computes S = softmax(Q K^T / sqrt(D)), O = S V for each, in its
 * own scores buffer (max_seq^2 floats), with llm_gemm_nt and llm_gemm_nn: batch invariant, as the
 * products with the weights are (llm_compute_set_batch_invariant), so a
 * sequence's states do not depend on the others in the batch. */
static void attend(void *ctx, int64_t slot)
{
    attn_job *j = ctx;
    emb_model *m = j->m;
    int H = m->n_head, E = m->n_embd, D = E / H;
    float *S = m->scores + (size_t)slot * m->max_seq * m->max_seq;
    float scale = 1.0f / sqrtf((float)D);
    for (int64_t job = slot; job < (int64_t)j->b->n_seq * H; job += j->n_slots) {
        int s = (int)(job / H), h = (int)(job % H);
        int L = j->b->len[s];
        const float *base = m->qkv + (size_t)j->b->start[s] * 3 * E;
        const float *Q = base + (size_t)h * D, *K = base + E + (size_t)h * D,
                    *V = base + 2 * E + (size_t)h * D;
        llm_gemm_nt(Q, 3 * E, L, K, 3 * E, L, D, S, L, NULL);
        for (int r = 0; r < L; r++)
            llm_vec_softmax(S + (size_t)r * L, L, scale);
        float *O = m->att + (size_t)j->b->start[s] * E + (size_t)h * D;
        llm_gemm_nn(S, L, L, V, 3 * E, D, L, O, E, NULL);
    }
}

void emb_encoder_forward(emb_model *m, const emb_batch *b)
{
    int T = b->n_tokens, E = m->n_embd, F = m->n_ff;
    embed_tokens(m, b);
    for (int l = 0; l < m->n_layer; l++) {
        const emb_layer *L = &m->layers[l];
        /* q, k, v into qkv [T, 3E] */
        if (L->wqkv.data) {
            llm_matmul(m->compute, &L->wqkv, m->x, T, m->qkv);
            add_bias_rows(m->qkv, L->bqkv, T, 3 * E, 3 * E);
        } else {
            /* separate projections: computed into tmp, then interleaved per token */
            const llm_mat *w[3] = {&L->wq, &L->wk, &L->wv};
            const float *bias[3] = {L->bq, L->bk, L->bv};
            for (int k = 0; k < 3; k++) {
                llm_matmul(m->compute, w[k], m->x, T, m->tmp);
                add_bias_rows(m->tmp, bias[k], T, E, E);
                for (int t = 0; t < T; t++)
                    memcpy(m->qkv + (size_t)t * 3 * E + (size_t)k * E, m->tmp + (size_t)t * E,
                           (size_t)E * sizeof(float));
            }
        }
        if (m->arch == EMB_NOMIC) rope_batch(m, b);
        /* attention within each sequence: pairs spread over the workers */
        attn_job job = {m, b, llm_compute_threads(m->compute)};
        llm_parallel_for(m->compute, job.n_slots, attend, &job);
        /* x = LN(x + att Wo + bo) */
        llm_matmul(m->compute, &L->wo, m->att, T, m->tmp);
        add_bias_rows(m->tmp, L->bo, T, E, E);
        for (int t = 0; t < T; t++) {
            float *x = m->x + (size_t)t * E;
            llm_vec_add(x, m->tmp + (size_t)t * E, E);
            llm_vec_layernorm(x, L->attn_norm_w, L->attn_norm_b, x, E, m->eps);
        }
        /* feed-forward: GELU(x Wup + b) (bert) or silu(x Wgate) * x Wup (nomic) */
        llm_matmul(m->compute, &L->w_up, m->x, T, m->ffn);
        add_bias_rows(m->ffn, L->b_up, T, F, F);
        if (L->w_gate.data) {
            llm_matmul(m->compute, &L->w_gate, m->x, T, m->ffn2);
            llm_vec_swiglu(m->ffn2, m->ffn, (int64_t)T * F);
            llm_matmul(m->compute, &L->w_down, m->ffn2, T, m->tmp);
        } else {
            llm_vec_gelu(m->ffn, (int64_t)T * F);
            llm_matmul(m->compute, &L->w_down, m->ffn, T, m->tmp);
        }
        add_bias_rows(m->tmp, L->b_down, T, E, E);
        for (int t = 0; t < T; t++) {
            float *x = m->x + (size_t)t * E;
            llm_vec_add(x, m->tmp + (size_t)t * E, E);
            llm_vec_layernorm(x, L->out_norm_w, L->out_norm_b, x, E, m->eps);
        }
    }
}
