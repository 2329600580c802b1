/* llm/batch.c: one decoding step for several sequences (see llm/batch.h). */
#include "llm/batch.h"
#include "base/mem.h"
#include "llm/model_int.h"

#include <string.h>

struct llm_batch {
    const llm_model *m;
    int max_ctx;
    llm_acts a; /* LLM_MATMUL_ROWS_MAX token rows and as many rows of logits */
};

int llm_batch_new(const llm_model *m, int max_ctx, int n_threads, llm_batch **out, rag_err *err)
{
    *out = NULL;
    if (max_ctx < 1 || max_ctx > 1 << 20)
        return rag_err_set(err, RAG_ERR_INVALID, "batch: context size %d out of range", max_ctx);
    llm_batch *b = rag_xcalloc(1, sizeof *b);
    b->m = m;
    b->max_ctx = max_ctx;
    int rc = llm_acts_init(&b->a, m, LLM_MATMUL_ROWS_MAX, max_ctx, LLM_MATMUL_ROWS_MAX,
                           m->hp.n_vocab, n_threads, err);
    if (rc) {
        rag_free(b);
        return rc;
    }
    /* as a decoding context does: the same kernels give the same logits */
    llm_compute_set_int8_decode(b->a.compute, 1);
    *out = b;
    return 0;
}

void llm_batch_free(llm_batch *b)
{
    if (!b) return;
    llm_acts_free(&b->a);
    rag_free(b);
}

static int check(const llm_batch *b, llm_context *const *cs, const int32_t *tokens, int n,
                 rag_err *err)
{
    for (int i = 0; i < n; i++) {
        const llm_context *c = cs[i];
        if (c->m != b->m || c->p.embeddings || c->p.n_ctx > b->max_ctx)
            return rag_err_set(err, RAG_ERR_INVALID,
                               "sequence %d: its context is not one this batch can decode "
                               "(another model, embeddings mode, or more than %d positions)",
                               i, b->max_ctx);
        for (int j = 0; j < i; j++)
            if (cs[j] == c)
                return rag_err_set(err, RAG_ERR_INVALID, "sequences %d and %d share a context", j,
                                   i);
        if (c->n_past >= c->p.n_ctx)
            return rag_err_set(err, RAG_ERR_LIMIT,
                               "sequence %d: the context is full (%d positions)", i, c->p.n_ctx);
        if (tokens[i] < 0 || tokens[i] >= b->m->hp.n_vocab)
            return rag_err_set(err, RAG_ERR_INVALID,
                               "sequence %d: token %d is outside the vocabulary (%d)", i, tokens[i],
                               b->m->hp.n_vocab);
    }
    return 0;
}

int llm_batch_decode(llm_batch *b, llm_context *const *cs, const int32_t *tokens, int n,
                     rag_err *err)
{
    if (n <= 0) return rag_err_set(err, RAG_ERR_INVALID, "no sequences to decode");
    int rc = check(b, cs, tokens, n, err);
    if (rc) return rc;
    size_t V = (size_t)b->m->hp.n_vocab;
    for (int done = 0; done < n;) {
        int g = n - done < LLM_MATMUL_ROWS_MAX ? n - done : LLM_MATMUL_ROWS_MAX;
        for (int t = 0; t < g; t++) {
            b->a.seq[t] = cs[done + t];
            b->a.pos[t] = cs[done + t]->n_past;
        }
        llm_forward(b->m, &b->a, tokens + done, g, 0, 0);
        for (int t = 0; t < g; t++) {
            llm_context *c = cs[done + t];
            memcpy(c->a.logits, b->a.logits + (size_t)t * V, V * sizeof(float));
            c->cached[c->n_past++] = tokens[done + t];
            c->last_n = c->last_batch_n = 1;
        }
        done += g;
    }
    return 0;
}
