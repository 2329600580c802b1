/* llm/generate.c: the generation loop.
 *
 * Stop strings may span tokens, so text is held back while its tail could
 * still become the start of a stop string; held text is released as soon as
 * it cannot, and dropped when a stop string completes. */
#include "llm/generate.h"
#include "base/buf.h"
#include "base/mem.h"
#include "base/time.h"
#include "llm/model_int.h"

#include <string.h>

void llm_gen_default_params(llm_gen_params *p)
{
    memset(p, 0, sizeof *p);
    p->n_predict = 256;
    llm_sampler_default_params(&p->sampling);
}

const char *llm_stop_reason_name(llm_stop_reason r)
{
    static const char *names[] = {"eog", "stop", "length", "context", "cancel"};
    return names[r];
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop
 * string; sets *full to the offset of a complete stop string, or -1. */
static size_t stop_overlap(const llm_gen_params *p, const char *s, size_t n, long *full)
{
    size_t hold = 0;
    *full = -1;
    for (size_t i = 0; i < p->n_stop; i++) {
        const char *st = p->stop[i];
        size_t sl = strlen(st);
        if (!sl) continue;
        const char *hit = memmem(s, n, st, sl);
        if (hit && (*full < 0 || hit - s < *full)) *full = hit - s;
        for (size_t k = sl - 1 < n ? sl - 1 : n; k > hold; k--)
            if (!memcmp(s + n - k, st, k)) {
                hold = k;
                break;
            }
    }
    return hold;
}

static int decode(const llm_gen_params *p, llm_context *c, const int32_t *tokens, int n,
                  rag_err *err)
{
    return p->batcher ? llm_batcher_decode(p->batcher, c, tokens, n, err)
                      : llm_decode(c, tokens, n, err);
}

int llm_generate(llm_context *c, const int32_t *prompt, size_t n_prompt, const llm_gen_params *p,
                 llm_text_fn on_text, void *ctx, llm_gen_stats *stats, rag_err *err)
{
    memset(stats, 0, sizeof *stats);
    llm_gen_params defaults;
    if (!p) {
        llm_gen_default_params(&defaults);
        p = &defaults;
    }
    const llm_model *m = c->m;
    const llm_vocab *v = llm_model_vocab(m);
    if (n_prompt == 0) return rag_err_set(err, RAG_ERR_INVALID, "empty prompt");
    double t0 = rag_now_ms();
    int rc = decode(p, c, prompt, (int)n_prompt, err);
    if (rc) return rc;
    double t1 = rag_now_ms();
    stats->n_prompt = (int)n_prompt;
    stats->prompt_ms = t1 - t0;

    int32_t n_vocab = llm_model_hparams(m)->n_vocab;
    llm_sampler *s = llm_sampler_new(&p->sampling, n_vocab);
    size_t cap = n_prompt + (size_t)(p->n_predict > 0 ? p->n_predict : 0) + 1;
    int32_t *hist = rag_xmalloc(cap * sizeof *hist);
    memcpy(hist, prompt, n_prompt * sizeof *hist);
    size_t n_hist = n_prompt;
    llm_detok dt;
    llm_detok_init(&dt);
    rag_buf held = {0}; /* text not yet released (stop-string lookahead) */
    char piece[256];
    stats->stop = LLM_STOP_LENGTH;
    for (int i = 0; i < p->n_predict; i++) {
        int32_t tok = llm_sampler_sample(s, llm_context_logits(c, c->last_n - 1), hist, n_hist);
        hist[n_hist++] = tok;
        stats->n_generated++;
        if (llm_token_is_eog(v, tok)) {
            stats->stop = LLM_STOP_EOG;
            break;
        }
        size_t len = llm_detok_push(v, &dt, tok, p->render_special, piece, sizeof piece);
        rag_buf_append(&held, piece, len < sizeof piece ? len : sizeof piece);
        long full;
        size_t hold = stop_overlap(p, rag_buf_str(&held), held.len, &full);
        if (full >= 0) {
            if (full > 0 && on_text(ctx, held.data, (size_t)full))
                stats->stop = LLM_STOP_CANCEL;
            else
                stats->stop = LLM_STOP_STRING;
            rag_buf_clear(&held);
            break;
        }
        size_t out = held.len - hold;
        if (out) {
            int stop = on_text(ctx, held.data, out);
            memmove(held.data, held.data + out, hold);
            held.len = hold;
            if (stop) {
                stats->stop = LLM_STOP_CANCEL;
                break;
            }
        }
        if (i + 1 == p->n_predict) break;
        if (llm_context_n_past(c) >= llm_context_n_ctx(c)) {
            stats->stop = LLM_STOP_CONTEXT;
            break;
        }
        rc = decode(p, c, &tok, 1, err);
        if (rc) break;
    }
    if (p->batcher) llm_batcher_leave(p->batcher, c);
    if (!rc && stats->stop != LLM_STOP_STRING && stats->stop != LLM_STOP_CANCEL) {
        size_t len = llm_detok_flush(&dt, piece, sizeof piece);
        rag_buf_append(&held, piece, len);
        if (held.len) on_text(ctx, held.data, held.len);
    }
    stats->gen_ms = rag_now_ms() - t1;
    rag_buf_free(&held);
    rag_free(hist);
    llm_sampler_free(s);
    return rc;
}
