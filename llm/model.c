/* llm/model.c: loading decoder models and creating contexts.
 *
 * Architecture registry: llama, qwen2 and qwen3 share one block structure
 * (RMSNorm, grouped-query attention with RoPE, SwiGLU feed-forward) and
 * differ in details the hyperparameters record: qwen2 adds q/k/v biases and
 * rotates halves (NEOX RoPE), qwen3 normalises q and k per head instead of
 * biases. Hyperparameters come from "<arch>.*" keys; every tensor is checked
 * for presence, shape and a computable type before anything runs. */
#include "llm/model_int.h"
#include "base/log.h"
#include "base/mem.h"
#include "llm/qgemm.h"
#include "llm/vecmath.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define IL_THREADS 16 /* the most threads interleaving a model's matrices */

typedef struct arch_info {
    const char *name;
    llm_rope_kind rope;
    int qkv_bias, qk_norm;
} arch_info;

static const arch_info archs[] = {
    {"llama", LLM_ROPE_NORM, 0, 0},
    {"qwen2", LLM_ROPE_NEOX, 1, 0},
    {"qwen3", LLM_ROPE_NEOX, 0, 1},
};

static const arch_info *find_arch(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
        if (strlen(archs[i].name) == len && !memcmp(archs[i].name, name, len)) return &archs[i];
    return NULL;
}

int llm_arch_supported(const char *arch)
{
    return find_arch(arch, strlen(arch)) != NULL;
}

const llm_hparams *llm_model_hparams(const llm_model *m)
{
    return &m->hp;
}
const llm_vocab *llm_model_vocab(const llm_model *m)
{
    return m->vocab;
}
const llm_gguf *llm_model_gguf(const llm_model *m)
{
    return m->gguf;
}

/* "<arch>.<suffix>" as a u32; required ones fail when absent. */
static int hp_u32(const llm_model *m, const char *suffix, int required, int *out, rag_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->hp.arch, suffix);
    uint32_t v;
    int rc = llm_gguf_get_u32(m->gguf, key, &v, err);
    if (rc == RAG_ERR_NOTFOUND && !required) return 0;
    if (rc) return rc;
    if (v > (1u << 30))
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: %s = %u is out of range",
                           llm_gguf_path(m->gguf), key, v);
    *out = (int)v;
    return 0;
}

static int hp_f32(const llm_model *m, const char *suffix, float *out, rag_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->hp.arch, suffix);
    int rc = llm_gguf_get_f32(m->gguf, key, out, err);
    return rc == RAG_ERR_NOTFOUND ? 0 : rc;
}

static int read_hparams(llm_model *m, rag_err *err)
{
    const char *path = llm_gguf_path(m->gguf);
    const char *a;
    size_t alen;
    int rc = llm_gguf_get_str(m->gguf, "general.architecture", &a, &alen, err);
    if (rc) return rc;
    const arch_info *ai = find_arch(a, alen);
    if (!ai)
        return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                           "%s: architecture '%.*s' is not supported (llama, qwen2, qwen3 are)",
                           path, (int)(alen > 40 ? 40 : alen), a);
    llm_hparams *hp = &m->hp;
    snprintf(hp->arch, sizeof hp->arch, "%s", ai->name);
    hp->rope_kind = ai->rope;
    hp->has_qkv_bias = ai->qkv_bias;
    hp->has_qk_norm = ai->qk_norm;
    hp->rope_base = 10000.0f;
    hp->rope_scale = 1.0f;
    hp->norm_eps = 1e-5f;
    if ((rc = hp_u32(m, "context_length", 1, &hp->n_ctx_train, err)) ||
        (rc = hp_u32(m, "embedding_length", 1, &hp->n_embd, err)) ||
        (rc = hp_u32(m, "block_count", 1, &hp->n_layer, err)) ||
        (rc = hp_u32(m, "feed_forward_length", 1, &hp->n_ff, err)) ||
        (rc = hp_u32(m, "attention.head_count", 1, &hp->n_head, err)))
        return rc;
    hp->n_head_kv = hp->n_head;
    if ((rc = hp_u32(m, "attention.head_count_kv", 0, &hp->n_head_kv, err))) return rc;
    if (hp->n_head <= 0 || hp->n_head_kv <= 0 || hp->n_head % hp->n_head_kv || hp->n_embd <= 0 ||
        hp->n_layer <= 0 || hp->n_ff <= 0)
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: inconsistent attention heads (%d heads, %d KV heads) or sizes",
                           path, hp->n_head, hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    if ((rc = hp_u32(m, "attention.key_length", 0, &hp->head_dim, err))) return rc;
    hp->n_rot = hp->head_dim;
    if ((rc = hp_u32(m, "rope.dimension_count", 0, &hp->n_rot, err))) return rc;
    if (hp->head_dim <= 0 || hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: rope dimension %d does not fit head size %d",
                           path, hp->n_rot, hp->head_dim);
    if ((rc = hp_f32(m, "rope.freq_base", &hp->rope_base, err)) ||
        (rc = hp_f32(m, "attention.layer_norm_rms_epsilon", &hp->norm_eps, err)))
        return rc;
    /* RoPE scaling: linear is a position divisor; others are refused
     * rather than run with wrong numerics. */
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", hp->arch);
    const char *st;
    size_t stl;
    if (llm_gguf_get_str(m->gguf, key, &st, &stl, NULL) == 0 &&
        !(stl == 4 && !memcmp(st, "none", 4))) {
        float factor = 1.0f;
        if ((rc = hp_f32(m, "rope.scaling.factor", &factor, err))) return rc;
        if (stl == 6 && !memcmp(st, "linear", 6) && factor > 0)
            hp->rope_scale = factor;
        else if (factor != 1.0f)
            return rag_err_set(err, RAG_ERR_UNSUPPORTED, "%s: RoPE scaling '%.*s' is not supported",
                               path, (int)(stl > 20 ? 20 : stl), st);
    }
    return 0;
}

/* A matrix tensor: name, expected row length (cols) and row count. */
static int get_mat(llm_model *m, const char *name, int64_t cols, int64_t rows, int optional,
                   llm_mat *out, rag_err *err)
{
    const llm_tensor_info *t = llm_gguf_find_tensor(m->gguf, name);
    const char *path = llm_gguf_path(m->gguf);
    memset(out, 0, sizeof *out);
    if (!t) {
        if (optional) return 0;
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
    }
    if (t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != 1 || t->ne[3] != 1)
        return rag_err_set(
            err, RAG_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]",
            path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)cols, (long long)rows);
    const llm_dtype_info *di = llm_dtype_get(t->type);
    if (!di->can_compute)
        return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                           "%s: tensor '%s' has type %s, which is not supported", path, name,
                           di->name);
    *out = (llm_mat){t->type, rows, cols, t->data, llm_row_bytes(t->type, cols), NULL};
    if (cols > m->max_cols) m->max_cols = cols;
    return 0;
}

/* A vector tensor of n values, copied to floats (NULL when optional and absent). */
static int get_vec(llm_model *m, const char *name, int64_t n, int optional, float **out,
                   rag_err *err)
{
    llm_mat v;
    *out = NULL;
    int rc = get_mat(m, name, n, 1, optional, &v, err);
    if (rc || !v.data) return rc;
    *out = rag_xmalloc((size_t)n * sizeof(float));
    llm_dequant_row(v.type, v.data, *out, n);
    return 0;
}

static int load_tensors(llm_model *m, rag_err *err)
{
    const llm_hparams *hp = &m->hp;
    int64_t e = hp->n_embd, qd = (int64_t)hp->n_head * hp->head_dim,
            kvd = (int64_t)hp->n_head_kv * hp->head_dim;
    int rc;
    if ((rc = get_mat(m, "token_embd.weight", e, hp->n_vocab, 0, &m->tok_embd, err)) ||
        (rc = get_vec(m, "output_norm.weight", e, 0, &m->output_norm, err)) ||
        (rc = get_mat(m, "output.weight", e, hp->n_vocab, 1, &m->output, err)) ||
        (rc = get_vec(m, "rope_freqs.weight", hp->n_rot / 2, 1, &m->rope_freqs, err)))
        return rc;
    if (!m->output.data) {
        m->output = m->tok_embd;
        m->hp.tied_output = 1;
    }
    m->layers = rag_xcalloc((size_t)hp->n_layer, sizeof *m->layers);
    for (int l = 0; l < hp->n_layer && !rc; l++) {
        llm_layer *L = &m->layers[l];
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d." s, l), n)
        if ((rc = get_vec(m, NAME("attn_norm.weight"), e, 0, &L->attn_norm, err)) ||
            (rc = get_mat(m, NAME("attn_q.weight"), e, qd, 0, &L->wq, err)) ||
            (rc = get_mat(m, NAME("attn_k.weight"), e, kvd, 0, &L->wk, err)) ||
            (rc = get_mat(m, NAME("attn_v.weight"), e, kvd, 0, &L->wv, err)) ||
            (rc = get_mat(m, NAME("attn_output.weight"), qd, e, 0, &L->wo, err)) ||
            (rc = get_vec(m, NAME("ffn_norm.weight"), e, 0, &L->ffn_norm, err)) ||
            (rc = get_mat(m, NAME("ffn_gate.weight"), e, hp->n_ff, 0, &L->w_gate, err)) ||
            (rc = get_mat(m, NAME("ffn_up.weight"), e, hp->n_ff, 0, &L->w_up, err)) ||
            (rc = get_mat(m, NAME("ffn_down.weight"), hp->n_ff, e, 0, &L->w_down, err)))
            break;
        if (hp->has_qkv_bias && ((rc = get_vec(m, NAME("attn_q.bias"), qd, 0, &L->bq, err)) ||
                                 (rc = get_vec(m, NAME("attn_k.bias"), kvd, 0, &L->bk, err)) ||
                                 (rc = get_vec(m, NAME("attn_v.bias"), kvd, 0, &L->bv, err))))
            break;
        if (hp->has_qk_norm &&
            ((rc = get_vec(m, NAME("attn_q_norm.weight"), hp->head_dim, 0, &L->q_norm, err)) ||
             (rc = get_vec(m, NAME("attn_k_norm.weight"), hp->head_dim, 0, &L->k_norm, err))))
            break;
#undef NAME
    }
    return rc;
}

/* The matrices the integer path interleaves (llm/qgemm.h: Q8_0, Q5_0,
 * Q4_0, Q4_K, Q5_K and Q6_K under AVX-512 VNNI) are rewritten once into
 * groups of 16 rows, in one block of huge pages, and the file's pages
 * under them let go (llm_gguf_release), so that the memory resident stays
 * what it was: the token embeddings, read a row at a time, stay in the
 * file even when the output matrix is theirs. That happens when the first
 * context or batch of the model is made (llm_acts_init), not when it is
 * opened: a program that only reads a model's description (rag
 * model-info) does not pay for it. A product takes the groups while the
 * path that made them is active (the tests switch paths), else the file's
 * rows. */
/* Every matrix the forward pass reads, the layers' then the output's
 * (allocated; *n of them). */
static llm_mat **model_mats(const llm_model *cm, size_t *n)
{
    llm_model *m = (llm_model *)cm; /* const for the readers; interleave changes them under il_mu */
    llm_mat **mats = rag_xcalloc((size_t)m->hp.n_layer * 7 + 1, sizeof *mats);
    *n = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        llm_layer *L = &m->layers[l];
        llm_mat *lm[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof lm / sizeof *lm; i++)
            mats[(*n)++] = lm[i];
    }
    mats[(*n)++] = &m->output;
    return mats;
}

typedef struct il_part {
    llm_mat *const *mats;
    uint8_t *const *dst;
    size_t n;
    int part, parts;
} il_part;

/* Part `part` of `parts` of every matrix's groups. */
static void *interleave_part(void *p)
{
    const il_part *a = p;
    for (size_t i = 0; i < a->n; i++) {
        const llm_mat *w = a->mats[i];
        int64_t groups = (w->rows + 15) / 16, g0 = groups * a->part / a->parts,
                g1 = groups * (a->part + 1) / a->parts, r1 = g1 * 16 < w->rows ? g1 * 16 : w->rows;
        if (g1 > g0)
            llm_qg_il_pack(w->type, (const uint8_t *)w->data + (size_t)(g0 * 16) * w->row_bytes,
                           w->row_bytes, r1 - g0 * 16, w->cols,
                           (uint8_t *)llm_qg_il_group(a->dst[i], w->type, w->cols, g0 * 16));
    }
    return NULL;
}

/* On every core (the file's pages fault in as the packing reads them):
 * Qwen2.5-0.5B Q8_0 (500 MB interleaved) 0.26 s on 2 cores, 0.40 on one. */
static void interleave(llm_model *m)
{
    size_t n_all, n = 0, total = 0;
    llm_mat **mats = model_mats(m, &n_all); /* those interleaved kept at the front */
    uint8_t **dst = rag_xcalloc(n_all, sizeof *dst);
    for (size_t i = 0; i < n_all; i++)
        if (mats[i]->data && llm_qg_il_handles(mats[i]->type)) {
            mats[n++] = mats[i];
            total += llm_qg_il_bytes(mats[i]->type, mats[i]->rows, mats[i]->cols);
        }
    if (n) {
        m->il_mem = rag_xalloc_huge(total);
        m->il_bytes = total;
        uint8_t *at = m->il_mem;
        for (size_t i = 0; i < n; i++) {
            dst[i] = at;
            at += llm_qg_il_bytes(mats[i]->type, mats[i]->rows, mats[i]->cols);
        }
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        int parts = online < 1 ? 1 : online > IL_THREADS ? IL_THREADS : (int)online;
        pthread_t tid[IL_THREADS];
        il_part a[IL_THREADS];
        int started = 0;
        for (int p = 0; p < parts; p++)
            a[p] = (il_part){mats, dst, n, p, parts};
        for (int p = 1; p < parts; p++) /* a part that does not start runs below */
            if (pthread_create(&tid[p], NULL, interleave_part, &a[p]) == 0)
                started |= 1 << p;
            else
                interleave_part(&a[p]);
        interleave_part(&a[0]);
        for (int p = 1; p < parts; p++)
            if (started & 1 << p) pthread_join(tid[p], NULL);
        for (size_t i = 0; i < n; i++) {
            llm_gguf_release(m->gguf, mats[i]->data, (size_t)mats[i]->rows * mats[i]->row_bytes);
            mats[i]->il = dst[i];
        }
    }
    rag_free(mats);
    rag_free(dst);
}

int llm_model_open(const char *path, llm_model **out, rag_err *err)
{
    *out = NULL;
    llm_model *m = rag_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->il_mu, NULL);
    int rc = llm_gguf_open(path, &m->gguf, err);
    if (!rc) rc = read_hparams(m, err);
    if (!rc) rc = llm_vocab_load(m->gguf, &m->vocab, err);
    if (!rc) {
        m->hp.n_vocab = llm_vocab_size(m->vocab);
        rc = load_tensors(m, err);
    }
    if (rc) {
        llm_model_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

void llm_model_close(llm_model *m)
{
    if (!m) return;
    for (int l = 0; m->layers && l < m->hp.n_layer; l++) {
        llm_layer *L = &m->layers[l];
        rag_free(L->attn_norm);
        rag_free(L->ffn_norm);
        rag_free(L->bq);
        rag_free(L->bk);
        rag_free(L->bv);
        rag_free(L->q_norm);
        rag_free(L->k_norm);
    }
    rag_free_huge(m->il_mem, m->il_bytes);
    pthread_mutex_destroy(&m->il_mu);
    rag_free(m->layers);
    rag_free(m->output_norm);
    rag_free(m->rope_freqs);
    llm_vocab_free(m->vocab);
    llm_gguf_close(m->gguf);
    rag_free(m);
}

void llm_model_token_row(const llm_model *m, int32_t token, float *y)
{
    const llm_mat *e = &m->tok_embd;
    if (m->hp.tied_output && m->output.il) /* the file's rows were let go (interleave) */
        llm_qg_il_row(e->type, llm_qg_il_group(m->output.il, e->type, e->cols, token), e->cols,
                      token % 16, y);
    else
        llm_dequant_row(e->type, (const uint8_t *)e->data + (size_t)token * e->row_bytes, y,
                        e->cols);
}

size_t llm_model_interleaved_bytes(const llm_model *cm)
{
    llm_model *m = (llm_model *)cm; /* the mutex only */
    size_t n, b = 0;
    llm_mat **mats = model_mats(m, &n);
    pthread_mutex_lock(&m->il_mu);
    for (size_t i = 0; i < n; i++)
        if (mats[i]->il) b += (size_t)mats[i]->rows * mats[i]->row_bytes;
    pthread_mutex_unlock(&m->il_mu);
    rag_free(mats);
    return b;
}

size_t llm_model_weight_bytes(const llm_model *m)
{
    size_t n, b = 0;
    llm_mat **mats = model_mats(m, &n);
    for (size_t i = 0; i < n; i++)
        b += (size_t)mats[i]->rows * mats[i]->row_bytes;
    rag_free(mats);
    return b;
}

/* ---- contexts -------------------------------------------------------------- */

void llm_context_default_params(llm_context_params *p)
{
    memset(p, 0, sizeof *p);
}

static float *acts_buf(llm_acts *a, size_t n)
{
    a->bytes += n * sizeof(float);
    return rag_xcalloc_lines(n ? n : 1, sizeof(float));
}

/* The model's interleaved groups, made by the first caller (the model is
 * otherwise read-only once opened: contexts of it may run on other threads,
 * but none before its own acts, so none before this). */
static void model_prepare(const llm_model *cm)
{
    llm_model *m = (llm_model *)cm;
    pthread_mutex_lock(&m->il_mu);
    if (!m->il_done) interleave(m);
    m->il_done = 1;
    pthread_mutex_unlock(&m->il_mu);
}

int llm_acts_init(llm_acts *a, const llm_model *m, int cap, int n_ctx, int n_logits, int out_width,
                  int n_threads, rag_err *err)
{
    model_prepare(m);
    memset(a, 0, sizeof *a);
    const llm_hparams *hp = &m->hp;
    int rc = llm_compute_new(n_threads, m->max_cols, &a->compute, err);
    if (rc) return rc;
    a->cap = cap;
    a->n_ctx = n_ctx;
    size_t B = (size_t)cap, E = (size_t)hp->n_embd;
    size_t QD = (size_t)hp->n_head * (size_t)hp->head_dim;
    size_t KVD = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    a->x = acts_buf(a, B * E);
    a->xn = acts_buf(a, B * (E > QD ? E : QD));
    a->q = acts_buf(a, B * QD);
    a->k = acts_buf(a, B * KVD);
    a->v = acts_buf(a, B * KVD);
    a->att = acts_buf(a, B * QD);
    a->gate = acts_buf(a, B * (size_t)hp->n_ff);
    a->up = acts_buf(a, B * (size_t)hp->n_ff);
    a->rope_cs = acts_buf(a, B * (size_t)hp->n_rot);
    /* a row per head for a token, or LLM_ATT_BLOCK rows per head for the
     * blocked attention of a prompt (llm/forward.c) */
    int blocked = cap > LLM_MATMUL_ROWS_MAX;
    a->att_rows = blocked ? LLM_ATT_BLOCK : 1;
    a->scores = acts_buf(a, (size_t)hp->n_head * (size_t)n_ctx * (size_t)a->att_rows);
    a->att_q = acts_buf(a, blocked ? LLM_ATT_BLOCK * QD : 0);
    a->kv_wide = acts_buf(a, (size_t)hp->n_head_kv * 2 * (size_t)n_ctx * (size_t)hp->head_dim);
    a->panel_k = n_ctx > hp->head_dim ? n_ctx : hp->head_dim;
    a->att_panel = acts_buf(a, (size_t)hp->n_head_kv * LLM_GEMM_PANEL * (size_t)a->panel_k);
    a->n_logits = n_logits;
    a->logits = acts_buf(a, (size_t)n_logits * (size_t)out_width);
    a->seq = rag_xcalloc(B, sizeof *a->seq);
    a->pos = rag_xcalloc(B, sizeof *a->pos);
    return 0;
}

void llm_acts_free(llm_acts *a)
{
    llm_compute_free(a->compute);
    float *bufs[] = {a->x,  a->xn,      a->q,      a->k,       a->v,      a->att,   a->gate,
                     a->up, a->rope_cs, a->scores, a->kv_wide, a->logits, a->att_q, a->att_panel};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        rag_free_lines(bufs[i]);
    rag_free(a->seq);
    rag_free(a->pos);
    memset(a, 0, sizeof *a);
}

int llm_context_new(const llm_model *m, const llm_context_params *p, llm_context **out,
                    rag_err *err)
{
    *out = NULL;
    const llm_hparams *hp = &m->hp;
    llm_context *c = rag_xcalloc(1, sizeof *c);
    c->m = m;
    if (p) c->p = *p;
    if (c->p.n_ctx <= 0) c->p.n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    if (c->p.n_batch <= 0) c->p.n_batch = 512;
    if (c->p.n_batch > c->p.n_ctx) c->p.n_batch = c->p.n_ctx;
    if (c->p.n_ctx > 1 << 20) {
        rag_free(c);
        return rag_err_set(err, RAG_ERR_INVALID, "context size %d is too large", c->p.n_ctx);
    }
    int rc = llm_acts_init(&c->a, m, c->p.n_batch, c->p.n_ctx, c->p.logits_all ? c->p.n_batch : 1,
                           c->p.embeddings ? hp->n_embd : hp->n_vocab, c->p.n_threads, err);
    if (rc) {
        rag_free(c);
        return rc;
    }
    /* generation decodes with integer dot products; an embedder keeps float
     * products, so that a text's vector does not depend on its batch */
    llm_compute_set_int8_decode(c->a.compute, !c->p.embeddings);
    size_t KVD = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    c->kv_layer_elems = llm_kv_room(c->p.n_ctx) * KVD;
    c->cached = rag_xcalloc((size_t)c->p.n_ctx, sizeof *c->cached);
    c->k_cache = rag_xcalloc_lines(c->kv_layer_elems * (size_t)hp->n_layer, sizeof *c->k_cache);
    c->v_cache = rag_xcalloc_lines(c->kv_layer_elems * (size_t)hp->n_layer, sizeof *c->v_cache);
    *out = c;
    return 0;
}

void llm_context_free(llm_context *c)
{
    if (!c) return;
    llm_acts_free(&c->a);
    rag_free_lines(c->k_cache);
    rag_free_lines(c->v_cache);
    rag_free(c->cached);
    rag_free(c);
}

int llm_context_n_ctx(const llm_context *c)
{
    return c->p.n_ctx;
}
int llm_context_n_past(const llm_context *c)
{
    return c->n_past;
}

void llm_context_truncate(llm_context *c, int n_keep)
{
    if (n_keep < 0) n_keep = 0;
    if (n_keep < c->n_past) c->n_past = n_keep;
}

int llm_context_reuse(llm_context *c, const int32_t *tokens, int n)
{
    int keep = 0;
    while (keep < c->n_past && keep < n - 1 && c->cached[keep] == tokens[keep])
        keep++;
    llm_context_truncate(c, keep);
    return keep;
}

int llm_pass_size(int remaining, int cap)
{
    int b = remaining < cap ? remaining : cap;
    /* a last pass too short: this one gives it LLM_PASS_MIN */
    if (remaining - b > 0 && remaining - b < LLM_PASS_MIN && b - LLM_PASS_MIN >= LLM_PASS_MIN)
        b = remaining - LLM_PASS_MIN;
    return b;
}

int llm_context_copy(llm_context *dst, const llm_context *src, rag_err *err)
{
    if (dst->m != src->m)
        return rag_err_set(err, RAG_ERR_INVALID, "copying a context of another model");
    if (src->n_past > dst->p.n_ctx)
        return rag_err_set(err, RAG_ERR_LIMIT, "copying %d positions into a context of %d",
                           src->n_past, dst->p.n_ctx);
    int D = src->m->hp.head_dim;
    size_t n = (size_t)src->n_past * (size_t)D;
    for (int l = 0; l < src->m->hp.n_layer; l++)
        for (int h = 0; h < src->m->hp.n_head_kv; h++) {
            /* the keys: the chunks holding the n_past positions, whole */
            memcpy(dst->k_cache + llm_k_index(dst, l, h, 0, 0),
                   src->k_cache + llm_k_index(src, l, h, 0, 0),
                   llm_kv_room(src->n_past) * (size_t)D * sizeof *dst->k_cache);
            memcpy(dst->v_cache + llm_kv_index(dst, l, h, 0),
                   src->v_cache + llm_kv_index(src, l, h, 0), n * sizeof *dst->v_cache);
        }
    memcpy(dst->cached, src->cached, (size_t)src->n_past * sizeof *dst->cached);
    dst->n_past = src->n_past;
    dst->last_n = dst->last_batch_n = 0; /* no logits: the next decode gives them */
    return 0;
}

size_t llm_context_kv_bytes(const llm_context *c)
{
    return 2 * c->kv_layer_elems * (size_t)c->m->hp.n_layer * sizeof(uint16_t);
}

size_t llm_context_scratch_bytes(const llm_context *c)
{
    return c->a.bytes;
}

int llm_decode(llm_context *c, const int32_t *tokens, int n, rag_err *err)
{
    if (n <= 0) return rag_err_set(err, RAG_ERR_INVALID, "no tokens to decode");
    if (n > c->p.n_ctx - c->n_past)
        return rag_err_set(err, RAG_ERR_LIMIT,
                           "the context would overflow: %d tokens in the cache + %d new > %d "
                           "(the context size)",
                           c->n_past, n, c->p.n_ctx);
    int32_t nv = c->m->hp.n_vocab;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= nv)
            return rag_err_set(err, RAG_ERR_INVALID,
                               "token %d at position %d is outside the vocabulary (%d)", tokens[i],
                               i, nv);
    memcpy(c->cached + c->n_past, tokens, (size_t)n * sizeof *tokens);
    for (int done = 0; done < n;) {
        int b = llm_pass_size(n - done, c->p.n_batch);
        llm_forward_batch(c, tokens + done, b);
        done += b;
        c->last_batch_n = b;
    }
    c->last_n = n;
    return 0;
}

/* Row i of the output buffer: from the last batch, with logits_all its rows,
 * else only its last. */
static const float *output_row(const llm_context *c, int i, int width)
{
    int first_of_batch = c->last_n - c->last_batch_n;
    if (!c->p.logits_all) return i == c->last_n - 1 ? c->a.logits : NULL;
    if (i < first_of_batch || i >= c->last_n) return NULL;
    return c->a.logits + (size_t)(i - first_of_batch) * (size_t)width;
}

const float *llm_context_logits(const llm_context *c, int i)
{
    return c->p.embeddings ? NULL : output_row(c, i, c->m->hp.n_vocab);
}

const float *llm_context_embedding(const llm_context *c, int i)
{
    return c->p.embeddings ? output_row(c, i, c->m->hp.n_embd) : NULL;
}
