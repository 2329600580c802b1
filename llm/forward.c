/* llm/forward.c: the forward pass of the llama-family decoders, one batch
 * of tokens at a time, top to bottom as the model computes it.
 *
 * Shapes (B tokens in the batch, E = n_embd, H heads of D = head_dim,
 * Hkv KV heads, F = n_ff, V = n_vocab, P = positions in the cache):
 *   x      [B, E]      token embeddings, then the residual stream
 *   q      [B, H*D]    k, v [B, Hkv*D]
 *   cache  per layer and sequence, F16 like llama.cpp's default: keys
 *          [Hkv][D][P] (each head's keys as columns), values [Hkv][P][D]
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

/* cos/sin of every rotated pair for each token of the pass, the cosines
 * first: rope_cs[t][i], [half + i] = cos, sin of
 * pos_t * base^(-2i/n_rot) / scale / freq_i, for i < half = n_rot / 2. */
static void rope_table(const llm_model *m, llm_acts *a, int n)
{
    const llm_hparams *hp = &m->hp;
    int half = hp->n_rot / 2;
    for (int t = 0; t < n; t++) {
        double pos = (double)a->pos[t] / hp->rope_scale;
        float *cs = a->rope_cs + (size_t)t * hp->n_rot;
        for (int i = 0; i < half; i++) {
            double theta = pos * pow(hp->rope_base, -2.0 * i / hp->n_rot);
            if (m->rope_freqs) theta /= m->rope_freqs[i];
            cs[i] = (float)cos(theta);
            cs[half + i] = (float)sin(theta);
        }
    }
}

/* Four floats, for GCC's vector operations (any target). */
typedef float rope_v4 __attribute__((vector_size(16)));

/* Rotates the first n_rot dims of each of n_heads heads of one token:
 * pairs (x[i], x[i + half]) for NEOX, else (x[2i], x[2i + 1]). Each pair
 * is x0 co - x1 si, x0 si + x1 co; NEOX's halves four pairs at a time,
 * the same operations on each lane as one at a time, so the same bits. */
static void rope_apply(const llm_hparams *hp, const float *cs, float *v, int n_heads)
{
    int half = hp->n_rot / 2;
    const float *co = cs, *si = cs + half;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * hp->head_dim;
        if (hp->rope_kind == LLM_ROPE_NEOX) {
            float *y = x + half;
            int i = 0;
            for (; i + 4 <= half; i += 4) {
                rope_v4 x0, x1, c, s;
                memcpy(&x0, x + i, sizeof x0);
                memcpy(&x1, y + i, sizeof x1);
                memcpy(&c, co + i, sizeof c);
                memcpy(&s, si + i, sizeof s);
                rope_v4 a = x0 * c - x1 * s, b = x0 * s + x1 * c;
                memcpy(x + i, &a, sizeof a);
                memcpy(y + i, &b, sizeof b);
            }
            for (; i < half; i++) {
                float x0 = x[i], x1 = y[i];
                x[i] = x0 * co[i] - x1 * si[i];
                y[i] = x0 * si[i] + x1 * co[i];
            }
        } else {
            for (int i = 0; i < half; i++) {
                float x0 = x[2 * i], x1 = x[2 * i + 1];
                x[2 * i] = x0 * co[i] - x1 * si[i];
                x[2 * i + 1] = x0 * si[i] + x1 * co[i];
            }
        }
    }
}

typedef struct attn_job {
    const llm_model *m;
    llm_acts *a;
    int layer, n;
} attn_job;

/* Positions [from, to) of KV head kvh's values at a layer, widened to
 * floats: rows of head_dim in dst. */
static void widen_v(const llm_context *c, const llm_hparams *hp, int layer, int kvh, int from,
                    int to, float *dst)
{
    size_t D = (size_t)hp->head_dim, at = llm_kv_index(c, layer, kvh, from);
    llm_dequant_row(LLM_F16, c->v_cache + at, dst + (size_t)from * D,
                    (int64_t)(to - from) * (int64_t)D);
}

/* The same positions of its keys: columns from to to of head_dim rows of
 * ld floats in dst. */
static void widen_k(const llm_context *c, const llm_hparams *hp, int layer, int kvh, int from,
                    int to, float *dst, int64_t ld)
{
    for (int p = from; p < to;) { /* a chunk's part at a time */
        int n = LLM_K_CHUNK - p % LLM_K_CHUNK < to - p ? LLM_K_CHUNK - p % LLM_K_CHUNK : to - p;
        for (int d = 0; d < hp->head_dim; d++)
            llm_dequant_row(LLM_F16, c->k_cache + llm_k_index(c, layer, kvh, d, p),
                            dst + d * ld + p, n);
        p += n;
    }
}

/* Tokens t0..t0 + nt - 1 of one sequence at consecutive positions (a
 * prompt), all G heads of the group at once: their queries gathered as
 * R = nt * G rows (token-major), S[R x P] = Q K^T for P the last token's
 * positions (K^T: the keys widened as the cache holds them, head_dim rows
 * ld apart), each row's softmax over its own token's positions (the later
 * ones zero), O = S V, scattered back. Two products per block instead of
 * two per token and head: a long prompt's attention went mostly to
 * packing the keys again for every call. The products are llm_gemm_nn,
 * whose elements are each one multiply-add chain from zero:
 * a token's row of S, and its row of O (the zeros past its positions add
 * nothing), are the bits attend_group computes for it alone, so that an
 * answer does not depend on where a prompt was cut into passes (ragd
 * computes the public prefix apart, and reuses cached prefixes; rag ask
 * computes the prompt in one pass). */
static void attend_block(const llm_hparams *hp, llm_acts *a, int kvh, int t0, int nt,
                         const float *kf, int64_t ld, const float *vf, float *s, float *qo,
                         float *panel)
{
    int D = hp->head_dim, G = hp->n_head / hp->n_head_kv, qd = hp->n_head * D, R = nt * G;
    int P = a->pos[t0 + nt - 1] + 1;
    float scale = 1.0f / sqrtf((float)D);
    size_t col = (size_t)kvh * G * D, group = (size_t)G * D * sizeof(float);
    for (int i = 0; i < nt; i++) /* the group's heads of a token are one run of G * D */
        memcpy(qo + (size_t)i * G * D, a->q + (size_t)(t0 + i) * qd + col, group);
    llm_gemm_nn(qo, D, R, kf, ld, P, D, s, P, panel);
    for (int r0 = 0; r0 < R; r0 += 16) { /* each row over its own token's positions */
        int64_t n_pos[16];
        int rows = R - r0 < 16 ? R - r0 : 16;
        for (int r = 0; r < rows; r++) {
            n_pos[r] = a->pos[t0 + (r0 + r) / G] + 1;
            memset(s + (size_t)(r0 + r) * P + n_pos[r], 0, (size_t)(P - n_pos[r]) * sizeof(float));
        }
        llm_vec_softmax_rows(s + (size_t)r0 * P, P, rows, n_pos, scale);
    }
    llm_gemm_nn(s, P, R, vf, D, D, P, qo, D, panel);
    for (int i = 0; i < nt; i++)
        memcpy(a->att + (size_t)(t0 + i) * qd + col, qo + (size_t)i * G * D, group);
}

/* Whether a pass of n tokens is a decoding one (the products go by rows,
 * each token attending alone): attend_group stores each token's key and
 * value after load_kv; a prompt's (more tokens) a run of tokens at a time,
 * before the run attends. */
static inline int decoding_pass(int n)
{
    return n <= LLM_MATMUL_ROWS_MAX;
}

/* Writes KV head h's keys and values of nt tokens of one sequence, at
 * positions pos.., into c's cache at a layer as F16 (each key a column,
 * llm_k_index), from k and v (a token's ld floats after the previous
 * one's): the keys 16 positions at a time, so that in a prompt each of
 * head_dim rows gets 16 values in one line where a token at a time stored
 * one value in each of head_dim lines. The same F16 values, so the same
 * bits. Qwen2.5-0.5B Q4_K_M, a 512-token prompt on 2 cores, with the rows
 * n_ctx apart (before LLM_K_CHUNK): qkv_row, which stored a token at a
 * time, 10.4 -> 2.7 ms; this took 5-6 ms on each thread, nearly all of it
 * waiting for the cache's lines (0.4-0.6 ms when they are in cache
 * already: prefetching the next run's did not help). */
static void store_kv(const llm_context *c, const llm_hparams *hp, int layer, int h, int pos, int nt,
                     const float *k, const float *v, size_t ld)
{
    int D = hp->head_dim;
    for (int i = 0; i < nt; i++)
        llm_quantize_row(LLM_F16, v + i * ld, c->v_cache + llm_kv_index(c, layer, h, pos + i), D);
    uint16_t blk[16][64]; /* 16 keys, 64 dimensions at a time */
    for (int i0 = 0; i0 < nt; i0 += 16) {
        int ni = nt - i0 < 16 ? nt - i0 : 16;
        for (int d0 = 0; d0 < D; d0 += 64) {
            int nd = D - d0 < 64 ? D - d0 : 64;
            for (int i = 0; i < ni; i++)
                llm_quantize_row(LLM_F16, k + (i0 + i) * ld + d0, blk[i], nd);
            for (int d = 0; d < nd; d++)
                for (int i = 0; i < ni; i++)
                    c->k_cache[llm_k_index(c, layer, h, d0 + d, pos + i0 + i)] = blk[i][d];
        }
    }
}

/* Reads one value in each cache line of the first n_pos positions of KV
 * head kvh's keys (chunk by chunk, llm_k_index) and values at a layer,
 * before a decoding token's products use them. Between a layer's steps
 * the weights of every other layer stream through the caches, so this
 * part of the cache comes from memory, and llm_gemm_nn_f16 reads the keys
 * 64 bytes from each of head_dim rows in turn: each line a miss waited
 * for. Plain loads in address order, rather than prefetch instructions,
 * measured best, and the products after them take about their time on a
 * warm cache. Timed per part of a token's attention (a KV head at a
 * layer, Qwen2.5-0.5B Q4_K_M at 512 positions, 2 cores): with every line
 * prefetched first (what this replaced) the prefetches took 3-7 us and
 * the scores' product then 12-19 us (2.7 on a warm cache); the loads take
 * 6-10 us and the product 3-5. Attention's time per step, medians of six
 * alternated runs: 4 sequences 2.61 -> 1.57 ms (283 tokens/s instead of
 * 261), one sequence 0.70-0.77 -> 0.43-0.45 ms. On one core, prefetching
 * each block of positions a block or more ahead of its product was slower
 * than either. (Those figures are from before LLM_K_CHUNK, with each of
 * head_dim rows n_ctx apart.) */
static inline void load_kv(const llm_context *c, int layer, int kvh, int n_pos)
{
    int D = c->m->hp.head_dim;
    uint32_t sum = 0;
    for (int p0 = 0; p0 < n_pos; p0 += LLM_K_CHUNK) { /* the chunks in order */
        int used = n_pos - p0 < LLM_K_CHUNK ? n_pos - p0 : LLM_K_CHUNK;
        const uint16_t *k = c->k_cache + llm_k_index(c, layer, kvh, 0, p0);
        for (int d = 0; d < D; d++, k += LLM_K_CHUNK)
            for (int p = 0; p < used; p += 32) /* 32 halves: a line */
                sum += k[p];
    }
    const uint16_t *v = c->v_cache + llm_kv_index(c, layer, kvh, 0);
    size_t n = (size_t)n_pos * (size_t)D;
    for (size_t i = 0; i < n; i += 32)
        sum += v[i];
    sum += v[n - 1];
    __asm__ volatile("" : : "r"(sum)); /* the loads are the point: kept */
}

/* Causal attention of the G query heads that share KV head kvh (grouped-
 * query attention), for every token of the pass, each over its own
 * sequence's cache up to its own position. In a pass of more than
 * LLM_MATMUL_ROWS_MAX tokens (a prompt), runs of tokens of one sequence go
 * LLM_ATT_BLOCK at a time (attend_block), the cache widened to floats once
 * for the group (and once for all the pass's tokens of one sequence).
 * Otherwise each token's scores and output are two small products:
 *   S[G x P] = Q[G x D] K^T,  softmax of each row,  O[G x D] = S V
 * on the F16 cache as it is (llm_gemm_nn_f16: the bits of the product on
 * it widened; for 7 heads over 1,500 positions, 10 us instead of 40 for
 * widening the values and the product; the keys, stored as columns, are
 * its B as well: widened, and multiplied by llm_gemm_nt's path for few
 * rows, they took as long as the values).
 * Either way a token's result is the same bits: it does not depend on
 * what else is in the pass, or on how a prompt was cut into passes. */
static void attend_group(void *ctx, int64_t kvh)
{
    attn_job *j = ctx;
    llm_acts *a = j->a;
    const llm_hparams *hp = &j->m->hp;
    int D = hp->head_dim, G = hp->n_head / hp->n_head_kv;
    size_t qd = (size_t)hp->n_head * D;
    float *kf = a->kv_wide + (size_t)kvh * 2 * a->n_ctx * D, *vf = kf + (size_t)a->n_ctx * D;
    int64_t ld = a->n_ctx; /* of kf's rows */
    /* the group's own part of the scores, whichever way a token attends (a
     * pass may use both) */
    float *s = a->scores + (size_t)kvh * G * a->att_rows * a->n_ctx;
    float *panel = a->att_panel + (size_t)kvh * LLM_GEMM_PANEL * a->panel_k;
    float scale = 1.0f / sqrtf((float)D);
    const llm_context *widened = NULL;
    int have_k = 0, have_v = 0; /* positions of `widened` in kf and in vf */
    for (int t = 0; t < j->n; t++) {
        const llm_context *c = a->seq[t];
        int n_pos = a->pos[t] + 1; /* causal: positions up to this token's own */
        if (c != widened) widened = c, have_k = have_v = 0;
        if (!decoding_pass(j->n)) {
            int nt = 1;
            while (nt < LLM_ATT_BLOCK && t + nt < j->n && a->seq[t + nt] == c &&
                   a->pos[t + nt] == a->pos[t] + nt)
                nt++;
            size_t kvd = (size_t)hp->n_head_kv * D, at = (size_t)t * kvd + (size_t)kvh * D;
            store_kv(c, hp, j->layer, (int)kvh, a->pos[t], nt, a->k + at, a->v + at, kvd);
            if (nt > 1) {
                int last = a->pos[t + nt - 1] + 1;
                if (have_k < last)
                    widen_k(c, hp, j->layer, (int)kvh, have_k, last, kf, ld), have_k = last;
                if (have_v < last)
                    widen_v(c, hp, j->layer, (int)kvh, have_v, last, vf), have_v = last;
                attend_block(hp, a, (int)kvh, t, nt, kf, ld, vf, s,
                             a->att_q + (size_t)kvh * G * LLM_ATT_BLOCK * D, panel);
                t += nt - 1;
                continue;
            }
        }
        const float *q =
            a->q + (size_t)t * qd + (size_t)kvh * G * D; /* the group's heads, in a row */
        float *out = a->att + (size_t)t * qd + (size_t)kvh * G * D;
        load_kv(c, j->layer, (int)kvh, n_pos);
        if (decoding_pass(j->n)) /* its lines just loaded */
            store_kv(c, hp, j->layer, (int)kvh, a->pos[t], 1,
                     a->k + (size_t)t * hp->n_head_kv * D + (size_t)kvh * D,
                     a->v + (size_t)t * hp->n_head_kv * D + (size_t)kvh * D, 0);
        for (int p0 = 0; p0 < n_pos; p0 += LLM_K_CHUNK) /* a chunk's columns at a time */
            llm_gemm_nn_f16(q, D, G, c->k_cache + llm_k_index(c, j->layer, (int)kvh, 0, p0),
                            LLM_K_CHUNK, n_pos - p0 < LLM_K_CHUNK ? n_pos - p0 : LLM_K_CHUNK, D,
                            s + p0, a->n_ctx);
        for (int g = 0; g < G; g++)
            llm_vec_softmax(s + (size_t)g * a->n_ctx, n_pos, scale);
        /* the values straight from the cache: the bits of llm_gemm_nn on
         * them widened, without widening them */
        llm_gemm_nn_f16(s, a->n_ctx, G, c->v_cache + llm_kv_index(c, j->layer, (int)kvh, 0), D, D,
                        n_pos, out, D);
    }
}

/* The steps between the products go token by token (each row's SIMD lanes
 * and tail are then the same whatever rows share the pass), spread over
 * the compute threads when the pass is a prompt's: on one thread they were
 * an eighth of a 1,500-token prompt's time on two cores (llm_parallel_rows). */
typedef struct row_job {
    const llm_model *m;
    llm_acts *a;
    int layer;
} row_job;

/* xn = norm(x) before attention. */
static void attn_norm_row(void *ctx, int64_t t)
{
    const row_job *j = ctx;
    const llm_hparams *hp = &j->m->hp;
    size_t E = (size_t)hp->n_embd;
    rms_norm(j->a->x + t * E, j->m->layers[j->layer].attn_norm, j->a->xn + t * E, (int)E,
             hp->norm_eps);
}

/* A token's q, k, v: biases, qwen3's per-head norms, RoPE. Its key and
 * value go into its sequence's cache in attend_group, for each KV head:
 * decoding, once load_kv has brought their lines in (a key is a column,
 * one line in each of head_dim rows, and stored here each was a miss
 * waited for: Qwen2.5-0.5B Q4_K_M at 512 positions, 2 cores, per step one
 * sequence 0.13-0.17 ms here and in the norm that asked for the lines
 * ahead, against 0.05 now and attention 0.05 more; four sequences 0.43 ->
 * 0.14 ms, attention 0.18 more); in a prompt, a run of tokens at a time
 * (store_kv). */
static void qkv_row(void *ctx, int64_t t)
{
    const row_job *j = ctx;
    llm_acts *a = j->a;
    const llm_hparams *hp = &j->m->hp;
    const llm_layer *L = &j->m->layers[j->layer];
    int D = hp->head_dim;
    size_t qd = (size_t)hp->n_head * D, kvd = (size_t)hp->n_head_kv * D;
    float *q = a->q + t * qd, *k = a->k + t * kvd, *v = a->v + t * kvd;
    if (L->bq) {
        llm_vec_add(q, L->bq, (int)qd);
        llm_vec_add(k, L->bk, (int)kvd);
        llm_vec_add(v, L->bv, (int)kvd);
    }
    if (L->q_norm) { /* qwen3: RMSNorm of each head before RoPE */
        for (int h = 0; h < hp->n_head; h++)
            rms_norm(q + h * D, L->q_norm, q + h * D, D, hp->norm_eps);
        for (int h = 0; h < hp->n_head_kv; h++)
            rms_norm(k + h * D, L->k_norm, k + h * D, D, hp->norm_eps);
    }
    const float *cs = a->rope_cs + t * hp->n_rot;
    rope_apply(hp, cs, q, hp->n_head);
    rope_apply(hp, cs, k, hp->n_head_kv);
}

/* x += the attention's projection (in xn); xn = norm(x) before the
 * feed-forward. */
static void ffn_norm_row(void *ctx, int64_t t)
{
    const row_job *j = ctx;
    const llm_hparams *hp = &j->m->hp;
    size_t E = (size_t)hp->n_embd;
    float *x = j->a->x + t * E, *xn = j->a->xn + t * E;
    llm_vec_add(x, xn, (int)E);
    rms_norm(x, j->m->layers[j->layer].ffn_norm, xn, (int)E, hp->norm_eps);
}

/* x += the feed-forward's output (in xn). */
static void ffn_out_row(void *ctx, int64_t t)
{
    const row_job *j = ctx;
    size_t E = (size_t)j->m->hp.n_embd;
    llm_vec_add(j->a->x + t * E, j->a->xn + t * E, (int)E);
}

static void layer_forward(const llm_model *m, llm_acts *a, int l, int n)
{
    const llm_layer *L = &m->layers[l];
    row_job rows = {m, a, l};

    /* attention: xn = norm(x); q, k, v = xn * Wq, Wk, Wv (+ bias) */
    llm_parallel_rows(a->compute, n, attn_norm_row, &rows);
    const llm_mat *qkv[] = {&L->wq, &L->wk, &L->wv};
    float *qkv_out[] = {a->q, a->k, a->v};
    llm_matmul_set(a->compute, qkv, qkv_out, 3, a->xn, n);
    llm_parallel_rows(a->compute, n, qkv_row, &rows);
    attn_job job = {m, a, l, n};
    llm_parallel_for(a->compute, m->hp.n_head_kv, attend_group, &job);
    /* x += att * Wo */
    llm_matmul(a->compute, &L->wo, a->att, n, a->xn);

    /* feed-forward: x += (silu(xn Wgate) * (xn Wup)) Wdown */
    llm_parallel_rows(a->compute, n, ffn_norm_row, &rows);
    llm_matmul_ffn(a->compute, &L->w_gate, &L->w_up, &L->w_down, a->xn, n, a->gate, a->up, a->xn);
    llm_parallel_rows(a->compute, n, ffn_out_row, &rows);
}

typedef struct embd_job {
    const llm_model *m;
    const int32_t *tokens;
    float *x;
} embd_job;

/* A token's embedding: its row of the token matrix (a tied model's read
 * back from the output's interleaved groups, a value at a time: on one
 * thread 5.6 ms of a 512-token prompt). */
static void embd_row(void *ctx, int64_t t)
{
    const embd_job *j = ctx;
    llm_model_token_row(j->m, j->tokens[t], j->x + t * j->m->hp.n_embd);
}

void llm_forward(const llm_model *m, llm_acts *a, const int32_t *tokens, int n, int out_first,
                 int embeddings)
{
    const llm_hparams *hp = &m->hp;
    int E = hp->n_embd;
    embd_job ej = {m, tokens, a->x};
    llm_parallel_rows(a->compute, n, embd_row, &ej);
    rope_table(m, a, n);
    for (int l = 0; l < hp->n_layer; l++)
        layer_forward(m, a, l, n);

    /* logits (or, for embedders, the normalised hidden state) of the
     * requested rows */
    int rows = n - out_first;
    float *normed = embeddings ? a->logits : a->xn;
    for (int t = out_first; t < n; t++)
        rms_norm(a->x + (size_t)t * E, m->output_norm, normed + (size_t)(t - out_first) * E, E,
                 hp->norm_eps);
    if (!embeddings) llm_matmul(a->compute, &m->output, a->xn, rows, a->logits);
}

void llm_forward_batch(llm_context *c, const int32_t *tokens, int n)
{
    for (int t = 0; t < n; t++) {
        c->a.seq[t] = c;
        c->a.pos[t] = c->n_past + t;
    }
    llm_forward(c->m, &c->a, tokens, n, c->p.logits_all ? 0 : n - 1, c->p.embeddings);
    c->n_past += n;
}
