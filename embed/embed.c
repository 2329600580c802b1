/* embed/embed.c: texts to vectors, and query/passage scores.
 *
 * Texts are tokenized (prefix for their kind, special tokens around),
 * truncated to the model's context (keeping the closing special token),
 * and packed into batches of up to batch_tokens tokens. Each batch is one
 * forward pass; pooling then reads each sequence's hidden states: the mean
 * over its tokens, its first ([CLS]) token, its last token, or the reranker
 * head on [CLS]: score = w_out . tanh(W h_cls + b) + b_out. */
#include "embed/emb_int.h"
#include "base/mem.h"
#include "base/time.h"
#include "llm/kernels.h"

#include <math.h>
#include <string.h>

/* The tokens of one input (prefix + text, with special tokens). */
static int tokenize_input(const emb_model *m, const char *text, emb_input kind, llm_tokens *out,
                          rag_err *err)
{
    const char *prefix = kind == EMB_QUERY      ? m->id.query_prefix
                         : kind == EMB_DOCUMENT ? m->id.doc_prefix
                                                : "";
    if (!*prefix) return llm_tokenize(emb_vocab(m), text, strlen(text), 1, 0, out, err);
    char *full = rag_xasprintf("%s%s", prefix, text);
    int rc = llm_tokenize(emb_vocab(m), full, strlen(full), 1, 0, out, err);
    rag_free(full);
    return rc;
}

size_t emb_count_tokens(const emb_model *m, const char *text, size_t n)
{
    return m->ops->count_tokens(m, text, n);
}

static size_t local_count_tokens(const emb_model *m, const char *text, size_t n)
{
    char *t = rag_xstrndup(text, n);
    llm_tokens tok = {0};
    size_t count = tokenize_input(m, t, EMB_DOCUMENT, &tok, NULL) ? n : tok.n;
    llm_tokens_free(&tok);
    rag_free(t);
    return count;
}

/* Cuts a sequence to max tokens, keeping its last token (the closing
 * [SEP]/EOS that the model saw in training) when it was added. */
static int truncate_seq(llm_tokens *t, size_t max, int keep_last)
{
    if (t->n <= max) return 0;
    int32_t last = t->v[t->n - 1];
    t->n = max;
    if (keep_last) t->v[max - 1] = last;
    return 1;
}

/* Pools sequence s of a packed batch (hidden states in m->x) into out. */
static void pool(const emb_model *m, const emb_batch *b, int s, float *out)
{
    int E = m->n_embd;
    const float *h = m->x + (size_t)b->start[s] * E;
    switch (m->id.pooling) {
    case EMB_POOL_MEAN:
        memset(out, 0, (size_t)E * sizeof *out);
        for (int t = 0; t < b->len[s]; t++)
            llm_vec_add(out, h + (size_t)t * E, E);
        for (int i = 0; i < E; i++)
            out[i] /= (float)b->len[s];
        break;
    case EMB_POOL_LAST:
        memcpy(out, h + (size_t)(b->len[s] - 1) * E, (size_t)E * sizeof *out);
        break;
    default: /* CLS, and the reranker's input */
        memcpy(out, h, (size_t)E * sizeof *out);
    }
}

void emb_normalize(float *v, int n)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)v[i] * v[i];
    if (ss <= 0) return;
    float inv = (float)(1.0 / sqrt(ss));
    for (int i = 0; i < n; i++)
        v[i] *= inv;
}

/* The reranker head on a CLS state. */
static float rank_score(emb_model *m, const float *cls)
{
    int E = m->n_embd;
    float *hid = m->tmp; /* one row of scratch */
    llm_matmul(m->compute, &m->cls_w, cls, 1, hid);
    double score = m->cls_out_b;
    for (int i = 0; i < E; i++)
        score += (double)m->cls_out_w[i] * tanh((double)hid[i] + (m->cls_b ? m->cls_b[i] : 0));
    return (float)score;
}

/* Runs the sequences seqs[0..n) through the encoder in packed batches and
 * calls done(ctx, i, hidden) for each with its pooled state. */
typedef void (*pooled_fn)(void *ctx, size_t i, const float *pooled);

static void run_encoder(emb_model *m, llm_tokens *seqs, size_t n, pooled_fn done, void *ctx)
{
    int *start = rag_xcalloc(n ? n : 1, sizeof *start), *len = rag_xcalloc(n ? n : 1, sizeof *len);
    int32_t *packed = rag_xmalloc((size_t)m->batch_tokens * sizeof *packed);
    float *pooled = rag_xmalloc((size_t)m->n_embd * sizeof *pooled);
    size_t i = 0;
    while (i < n) {
        size_t first = i;
        int used = 0, ns = 0;
        while (i < n && (ns == 0 || used + (int)seqs[i].n <= m->batch_tokens)) {
            start[ns] = used;
            len[ns] = (int)seqs[i].n;
            memcpy(packed + used, seqs[i].v, seqs[i].n * sizeof *packed);
            used += (int)seqs[i].n;
            ns++;
            i++;
        }
        emb_batch b = {packed, start, len, ns, used};
        emb_encoder_forward(m, &b);
        m->n_tokens_done += (uint64_t)used;
        for (int s = 0; s < ns; s++) {
            pool(m, &b, s, pooled);
            done(ctx, first + (size_t)s, pooled);
        }
    }
    rag_free(start);
    rag_free(len);
    rag_free(packed);
    rag_free(pooled);
}

/* Decoders: one sequence at a time through the llm context (last token). */
static int run_decoder(emb_model *m, llm_tokens *seqs, size_t n, pooled_fn done, void *ctx,
                       rag_err *err)
{
    for (size_t i = 0; i < n; i++) {
        llm_context_truncate(m->dctx, 0);
        int rc = llm_decode(m->dctx, seqs[i].v, (int)seqs[i].n, err);
        if (rc) return rc;
        m->n_tokens_done += seqs[i].n;
        done(ctx, i, llm_context_embedding(m->dctx, (int)seqs[i].n - 1));
    }
    return 0;
}

typedef struct embed_ctx {
    emb_model *m;
    float *out;
    int normalize;
} embed_ctx;

static void store_vector(void *p, size_t i, const float *pooled)
{
    embed_ctx *c = p;
    float *dst = c->out + i * (size_t)c->m->n_embd;
    memcpy(dst, pooled, (size_t)c->m->n_embd * sizeof *dst);
    if (c->normalize) emb_normalize(dst, c->m->n_embd);
}

static int run(emb_model *m, llm_tokens *seqs, size_t n, pooled_fn done, void *ctx, rag_err *err)
{
    double t0 = rag_now_s();
    int rc = 0;
    if (m->arch == EMB_DECODER)
        rc = run_decoder(m, seqs, n, done, ctx, err);
    else
        run_encoder(m, seqs, n, done, ctx);
    m->seconds += rag_now_s() - t0;
    return rc;
}

int emb_embed(emb_model *m, const char *const *texts, size_t n, emb_input kind, int normalize,
              float *out, uint8_t *truncated, rag_err *err)
{
    return m->ops->embed(m, texts, n, kind, normalize, out, truncated, err);
}

static int local_embed(emb_model *m, const char *const *texts, size_t n, emb_input kind,
                       int normalize, float *out, uint8_t *truncated, rag_err *err)
{
    if (m->id.pooling == EMB_POOL_RANK)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "%s is a reranker: it scores pairs, it does not embed", m->id.name);
    llm_tokens *seqs = rag_xcalloc(n ? n : 1, sizeof *seqs);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = tokenize_input(m, texts[i], kind, &seqs[i], err);
        if (!rc &&
            seqs[i].n == 0) /* nothing to pool: embed an empty text as a single UNK-free CLS */
            rc = rag_err_set(err, RAG_ERR_INVALID, "text %zu has no tokens", i);
        int cut = !rc && truncate_seq(&seqs[i], (size_t)m->n_ctx, m->arch != EMB_DECODER);
        if (truncated) truncated[i] = (uint8_t)cut;
    }
    embed_ctx c = {m, out, normalize};
    if (!rc) rc = run(m, seqs, n, store_vector, &c, err);
    for (size_t i = 0; i < n; i++)
        llm_tokens_free(&seqs[i]);
    rag_free(seqs);
    return rc;
}

typedef struct rank_ctx {
    emb_model *m;
    float *scores;
} rank_ctx;

static void store_score(void *p, size_t i, const float *pooled)
{
    rank_ctx *c = p;
    c->scores[i] = rank_score(c->m, pooled);
}

int emb_rerank(emb_model *m, const char *query, const char *const *passages, size_t n,
               float *scores, rag_err *err)
{
    return m->ops->rerank(m, query, passages, n, scores, err);
}

static int check_reranker(const emb_model *m, rag_err *err)
{
    if (m->id.pooling != EMB_POOL_RANK || m->arch == EMB_DECODER)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "%s is not a reranker (it has no classification head)", m->id.name);
    return 0;
}

/* Scores the pairs seqs[0..n) (cut to fit) unless rc is already set, and
 * frees them. */
static int score_pairs(emb_model *m, llm_tokens *seqs, size_t n, float *scores, int rc,
                       rag_err *err)
{
    for (size_t i = 0; i < n && !rc; i++)
        truncate_seq(&seqs[i], (size_t)m->n_ctx, 1);
    rank_ctx c = {m, scores};
    if (!rc) rc = run(m, seqs, n, store_score, &c, err);
    for (size_t i = 0; i < n; i++)
        llm_tokens_free(&seqs[i]);
    rag_free(seqs);
    return rc;
}

static int local_rerank(emb_model *m, const char *query, const char *const *passages, size_t n,
                        float *scores, rag_err *err)
{
    int rc = check_reranker(m, err);
    if (rc) return rc;
    llm_tokens *seqs = rag_xcalloc(n ? n : 1, sizeof *seqs);
    for (size_t i = 0; i < n && !rc; i++)
        rc = llm_tokenize_pair(m->vocab, query, strlen(query), passages[i], strlen(passages[i]),
                               &seqs[i], err);
    return score_pairs(m, seqs, n, scores, rc, err);
}

int emb_rerank_ids(emb_model *m, const llm_tokens *pairs, size_t n, float *scores, rag_err *err)
{
    if (m->ops != &emb_local_ops)
        return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                           "%s: token ids can be scored by a local reranker only", m->id.name);
    int rc = check_reranker(m, err);
    if (rc) return rc;
    int n_vocab = llm_vocab_size(m->vocab);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!pairs[i].n) rc = rag_err_set(err, RAG_ERR_INVALID, "pair %zu has no tokens", i + 1);
        for (size_t t = 0; t < pairs[i].n && !rc; t++)
            if (pairs[i].v[t] < 0 || pairs[i].v[t] >= n_vocab)
                rc = rag_err_set(err, RAG_ERR_INVALID,
                                 "pair %zu, token %zu: id %d is outside the vocabulary (0..%d)",
                                 i + 1, t + 1, (int)pairs[i].v[t], n_vocab - 1);
    }
    if (rc) return rc;
    llm_tokens *seqs = rag_xcalloc(n ? n : 1, sizeof *seqs);
    for (size_t i = 0; i < n; i++) {
        seqs[i].v = rag_xmalloc(pairs[i].n * sizeof *seqs[i].v);
        memcpy(seqs[i].v, pairs[i].v, pairs[i].n * sizeof *seqs[i].v);
        seqs[i].n = seqs[i].cap = pairs[i].n;
    }
    return score_pairs(m, seqs, n, scores, 0, err);
}

const emb_ops emb_local_ops = {"local", local_count_tokens, local_embed, local_rerank};
