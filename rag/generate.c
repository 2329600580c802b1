/* rag/generate.c: generation through the streaming citation check (see
 * rag/generate.h). */
#include "rag/generate.h"
#include "base/buf.h"
#include "base/mem.h"

#include <string.h>

typedef struct run {
    int grounded;
    ragd_citestream cs;
    rag_buf raw;
    ragd_stream_fn on_text;
    void *ctx;
    int stop;
} run;

static void pass_on(void *p, const char *text, size_t len)
{
    run *r = p;
    if (r->on_text && !r->stop) r->stop = r->on_text(r->ctx, text, len);
}

static int on_model_text(void *p, const char *text, size_t len)
{
    run *r = p;
    rag_buf_append(&r->raw, text, len);
    if (r->grounded) ragd_citestream_feed(&r->cs, text, len, pass_on, r);
    else pass_on(r, text, len);
    return r->stop;
}

int ragd_generate(llm_context *c, const ragd_prompt *pr, int grounded, const llm_gen_params *gp,
                  ragd_stream_fn on_text, void *ctx, ragd_generation *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    run r = {.grounded = grounded, .on_text = on_text, .ctx = ctx};
    ragd_citestream_init(&r.cs, pr->n_blocks);
    llm_context_truncate(c, 0);
    int rc = llm_generate(c, pr->tokens.v, pr->tokens.n, gp, on_model_text, &r, &out->stats, err);
    if (!rc) {
        ragd_citestream_flush(&r.cs, pass_on, &r);
        if (grounded) {
            ragd_citations_check(rag_buf_str(&r.raw), pr->n_blocks, &out->check);
        } else {
            out->check.text = rag_xstrdup(rag_buf_str(&r.raw));
        }
    }
    ragd_citestream_free(&r.cs);
    rag_buf_free(&r.raw);
    return rc;
}

void ragd_generation_free(ragd_generation *g)
{
    ragd_citecheck_free(&g->check);
    memset(g, 0, sizeof *g);
}
