/* ingest/reembed.c: the embedding model's identity in the store, and
 * re-embedding the whole database with another model.
 *
 * Re-embedding runs in batches of chunks, each batch's vectors committed in
 * one transaction, so it can be killed and resumed. The target model is
 * recorded (settings embed.target_id) and the database keeps using the old
 * model's vectors until every chunk has a vector of the new one; then, in
 * one transaction, the new model becomes the database's and the old vectors
 * are dropped. */
#include "ingest/ingest.h"
#include "base/mem.h"
#include "base/time.h"

#include <stdio.h>
#include <string.h>

#define REEMBED_BATCH 256 /* chunks per transaction */

void ing_model_record(const emb_model *m, store_model *out)
{
    const emb_identity *id = emb_model_identity(m);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", id->name);
    snprintf(out->file_sha256, sizeof out->file_sha256, "%s", id->file_sha256);
    out->dims = id->dims;
    snprintf(out->pooling, sizeof out->pooling, "%s", emb_pooling_name(id->pooling));
    out->normalized = id->normalized;
    snprintf(out->query_prefix, sizeof out->query_prefix, "%s", id->query_prefix);
    snprintf(out->doc_prefix, sizeof out->doc_prefix, "%s", id->doc_prefix);
}

static int same_identity(const store_model *a, const store_model *b)
{
    return !strcmp(a->file_sha256, b->file_sha256) && !strcmp(a->pooling, b->pooling) &&
           !strcmp(a->query_prefix, b->query_prefix) && !strcmp(a->doc_prefix, b->doc_prefix);
}

int ing_model_matches(store *s, const emb_model *m, rag_err *err)
{
    store_model want, active;
    ing_model_record(m, &want);
    int has = store_model_active(s, &active, err);
    if (has <= 0) return has;
    return same_identity(&want, &active);
}

/* What differs between the model given and the database's, for messages. */
static void describe_difference(const store_model *want, const store_model *active, char *why,
                                size_t n)
{
    if (strcmp(want->file_sha256, active->file_sha256))
        snprintf(
            why, n,
            "the database's vectors come from '%.40s' (%d dims, file sha256 %.12s...), not from "
            "'%.40s' (%d dims, %.12s...)",
            active->name, active->dims, active->file_sha256, want->name, want->dims,
            want->file_sha256);
    else if (strcmp(want->pooling, active->pooling))
        snprintf(why, n, "the database's vectors come from '%.40s' with %s pooling, not %s",
                 active->name, active->pooling, want->pooling);
    else
        snprintf(why, n,
                 "the database's vectors come from '%.40s' with the prefixes query '%.40s' and "
                 "document '%.40s', not query '%.40s' and document '%.40s' (embed.query_prefix, "
                 "embed.doc_prefix)",
                 active->name, active->query_prefix, active->doc_prefix, want->query_prefix,
                 want->doc_prefix);
}

int ing_model_require(store *s, const emb_model *m, rag_err *err)
{
    store_model want, active;
    ing_model_record(m, &want);
    int has = store_model_active(s, &active, err);
    if (has <= 0 || same_identity(&want, &active)) return has < 0 ? has : 0;
    char why[768];
    describe_difference(&want, &active, why, sizeof why);
    return rag_err_set(
        err, RAG_ERR_INVALID,
        "%s; vectors of two models cannot be mixed: use the same model, or switch with "
        "'rag reembed --embed-model FILE'",
        why);
}

int ing_model_check(store *s, const emb_model *m, int64_t *model_id, rag_err *err)
{
    int rc = ing_model_require(s, m, err);
    if (rc) return rc;
    store_model want, active;
    ing_model_record(m, &want);
    int has = store_model_active(s, &active, err);
    if (has < 0) return has;
    rc = store_begin(s, err);
    if (!rc) rc = store_model_ensure(s, &want, err);
    if (!rc && !has) rc = store_model_set_active(s, want.id, err);
    if (!rc)
        rc = store_commit(s, err);
    else
        store_rollback(s);
    if (!rc) *model_id = want.id;
    return rc;
}

typedef struct batch {
    int64_t *ids;
    char **texts;
    size_t n;
} batch;

static int collect(void *ctx, const store_chunk *c)
{
    batch *b = ctx;
    b->ids[b->n] = c->id;
    b->texts[b->n] = rag_xstrdup(c->text);
    b->n++;
    return 0;
}

int ing_reembed(store *s, emb_model *m, const ing_params *p, ing_reembed_report *report,
                rag_err *err)
{
    memset(report, 0, sizeof *report);
    double t0 = rag_now_s();
    store_model want;
    ing_model_record(m, &want);
    int rc = store_begin(s, err);
    if (!rc) rc = store_model_ensure(s, &want, err);
    if (!rc) rc = store_model_set_target(s, want.id, err);
    if (!rc)
        rc = store_commit(s, err);
    else
        store_rollback(s);
    if (rc) return rc;
    int64_t total = 0, done = 0;
    rc = store_vector_counts(s, want.id, &total, &done, err);
    if (rc) return rc;
    report->n_chunks = total;
    report->n_already = done;
    ing_progress prog = {.files_total = (size_t)total, .files_done = (size_t)done};
    int dims = emb_dims(m);
    batch b = {rag_xcalloc(REEMBED_BATCH, sizeof *b.ids),
               rag_xcalloc(REEMBED_BATCH, sizeof *b.texts), 0};
    float *vecs = rag_xmalloc((size_t)REEMBED_BATCH * (size_t)dims * sizeof *vecs);
    int64_t after = 0;
    for (;;) {
        if (p && p->cancel && *p->cancel) {
            report->cancelled = 1;
            break;
        }
        b.n = 0;
        rc = store_chunks_without_vector(s, want.id, after, REEMBED_BATCH, collect, &b, err);
        if (rc || b.n == 0) break;
        after = b.ids[b.n - 1];
        rc = emb_embed(m, (const char *const *)b.texts, b.n, EMB_DOCUMENT, 1, vecs, NULL, err);
        if (!rc) rc = store_begin(s, err);
        for (size_t i = 0; !rc && i < b.n; i++)
            rc = store_vector_put(s, b.ids[i], want.id, vecs + i * (size_t)dims, dims, err);
        if (!rc)
            rc = store_commit(s, err);
        else
            store_rollback(s);
        for (size_t i = 0; i < b.n; i++)
            rag_free(b.texts[i]);
        if (rc) break;
        report->n_embedded += (int64_t)b.n;
        prog.files_done += b.n;
        prog.seconds = rag_now_s() - t0;
        if (p && p->on_progress) p->on_progress(p->ctx, &prog);
    }
    for (size_t i = 0; i < b.n; i++)
        rag_free(b.texts[i]);
    rag_free(b.ids);
    rag_free(b.texts);
    rag_free(vecs);
    if (!rc && !report->cancelled) {
        /* everything has a vector of the new model: switch, drop the rest */
        rc = store_begin(s, err);
        if (!rc) rc = store_model_set_active(s, want.id, err);
        if (!rc) rc = store_model_set_target(s, 0, err);
        if (!rc) rc = store_vectors_drop_others(s, want.id, err);
        if (!rc)
            rc = store_commit(s, err);
        else
            store_rollback(s);
        report->switched = !rc;
    }
    report->seconds = rag_now_s() - t0;
    return rc;
}
