/* embed/encoder.c: the forward pass of BERT-style encoders over a packed
 * batch of sequences, top to bottom.
 *
 * Shapes (T tokens in the batch, E = n_embd, H heads of D = E/H, F = n_ff):
 *   x    [T, E]    embeddings, then the hidden states
 *   qkv  [T, 3E]   q | k | v of each token (a fused projection's rows), or
 *                  q [T, E], then k, then v (separate projections)
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

/* The steps between the products go token by token, spread over the
 * compute threads (on one thread, the biases, residuals, norms and GELU
 * were a fifth of a quantized encoder's time on two cores); each row's
 * lanes and tail are the same whatever rows share the batch (llm_parallel_rows).
 * The biases of the products, and GELU, are the products' epilogues
 * (llm_matmul_ep): done on each block of the output while it is in cache,
 * not in passes of their own over activations of several MB. */
typedef struct row_job {
    emb_model *m;
    const emb_layer *L;
    float *q, *k, *v; /* a token's row t at q + t * stride, ... */
    size_t stride;
} row_job;

/* x = LN(x + y), y the token's row of tmp (a product's output, its bias added). */
static void add_norm(const row_job *j, int64_t t, const float *w, const float *b)
{
    size_t E = (size_t)j->m->n_embd;
    float *x = j->m->x + t * E, *y = j->m->tmp + t * E;
    llm_vec_add(x, y, (int64_t)E);
    llm_vec_layernorm(x, w, b, x, (int64_t)E, j->m->eps);
}

/* x = LN(x + att Wo + bo) */
static void attn_out_row(void *ctx, int64_t t)
{
    const row_job *j = ctx;
    add_norm(j, t, j->L->attn_norm_w, j->L->attn_norm_b);
}

/* nomic's feed-forward activation: silu(x Wgate) * (x Wup + b) into ffn2
 * (bert's GELU(x Wup + b) is the product's epilogue). */
static void ffn_swiglu_row(void *ctx, int64_t t)
{
    const row_job *j = ctx;
    size_t F = (size_t)j->m->n_ff;
    llm_vec_swiglu(j->m->ffn2 + t * F, j->m->ffn + t * F, (int64_t)F);
}

/* x = LN(x + ffn Wdown + b) */
static void ffn_out_row(void *ctx, int64_t t)
{
    const row_job *j = ctx;
    add_norm(j, t, j->L->out_norm_w, j->L->out_norm_b);
}

/* NEOX RoPE on the first D dims of each head of q and k (nomic-bert). */
static void rope_batch(emb_model *m, const emb_batch *b, const row_job *r)
{
    int E = m->n_embd, H = m->n_head, D = E / H, half = D / 2;
    for (int s = 0; s < b->n_seq; s++)
        for (int p = 0; p < b->len[s]; p++) {
            size_t at = (size_t)(b->start[s] + p) * r->stride;
            for (int i = 0; i < half; i++) {
                double th = p * pow(m->rope_base, -2.0 * i / D);
                float c = (float)cos(th), sn = (float)sin(th);
                for (int h = 0; h < 2 * H; h++) { /* the q heads, then the k heads */
                    float *x = (h < H ? r->q : r->k) + at + (size_t)(h % H) * D;
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
    const row_job *r; /* where q, k and v are */
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
    float *S = m->scores + (size_t)slot * m->max_seq * m->max_seq,
          *panel = m->panels + (size_t)slot * m->panel_floats;
    float scale = 1.0f / sqrtf((float)D);
    for (int64_t job = slot; job < (int64_t)j->b->n_seq * H; job += j->n_slots) {
        int s = (int)(job / H), h = (int)(job % H);
        int L = j->b->len[s];
        size_t at = (size_t)j->b->start[s] * j->r->stride + (size_t)h * D;
        int64_t ld = (int64_t)j->r->stride;
        llm_gemm_nt(j->r->q + at, ld, L, j->r->k + at, ld, L, D, S, L, panel);
        llm_vec_softmax_rows(S, L, L, NULL, scale);
        float *O = m->att + (size_t)j->b->start[s] * E + (size_t)h * D;
        llm_gemm_nn(S, L, L, j->r->v + at, ld, D, L, O, E, panel);
    }
}

void emb_encoder_forward(emb_model *m, const emb_batch *b)
{
    int T = b->n_tokens;
    embed_tokens(m, b);
    for (int l = 0; l < m->n_layer; l++) {
        const emb_layer *L = &m->layers[l];
        size_t E = (size_t)m->n_embd;
        row_job rows = {m, L, m->qkv, m->qkv + E, m->qkv + 2 * E, 3 * E};
        /* q, k, v into qkv, their biases added */
        if (L->wqkv.data) {
            llm_matmul_ep(m->compute, &L->wqkv, m->x, T, m->qkv, &(llm_epilogue){L->bqkv, 0});
        } else { /* one after the other, the input quantized once for the three */
            rows.k = m->qkv + (size_t)T * E, rows.v = rows.k + (size_t)T * E, rows.stride = E;
            const llm_mat *w[3] = {&L->wq, &L->wk, &L->wv};
            float *out[3] = {rows.q, rows.k, rows.v};
            llm_epilogue bq = {L->bq, 0}, bk = {L->bk, 0}, bv = {L->bv, 0};
            const llm_epilogue *ep[3] = {&bq, &bk, &bv};
            llm_matmul_set_ep(m->compute, w, out, ep, 3, m->x, T);
        }
        if (m->arch == EMB_NOMIC) rope_batch(m, b, &rows);
        /* attention within each sequence: pairs spread over the workers */
        attn_job job = {m, b, &rows, llm_compute_threads(m->compute)};
        llm_parallel_for(m->compute, job.n_slots, attend, &job);
        /* x = LN(x + att Wo + bo) */
        llm_matmul_ep(m->compute, &L->wo, m->att, T, m->tmp, &(llm_epilogue){L->bo, 0});
        llm_parallel_rows(m->compute, T, attn_out_row, &rows);
        /* feed-forward: GELU(x Wup + b) (bert) or silu(x Wgate) * (x Wup + b) (nomic) */
        llm_epilogue up = {L->b_up, !L->w_gate.data};
        if (L->w_gate.data) { /* the input quantized once for both */
            const llm_mat *w[2] = {&L->w_up, &L->w_gate};
            float *out[2] = {m->ffn, m->ffn2};
            const llm_epilogue *ep[2] = {&up, NULL};
            llm_matmul_set_ep(m->compute, w, out, ep, 2, m->x, T);
            llm_parallel_rows(m->compute, T, ffn_swiglu_row, &rows);
        } else {
            llm_matmul_ep(m->compute, &L->w_up, m->x, T, m->ffn, &up);
        }
        llm_matmul_ep(m->compute, &L->w_down, L->w_gate.data ? m->ffn2 : m->ffn, T, m->tmp,
                      &(llm_epilogue){L->b_down, 0});
        llm_parallel_rows(m->compute, T, ffn_out_row, &rows);
    }
}
