/* rag/relevance.c: question terms, the lexical share of a passage and the
 * relevance cutoff (see rag/relevance.h). */
#include "rag/relevance.h"
#include "base/mem.h"

#include <math.h>
#include <string.h>

/* English words that say what kind of question it is, or hold a sentence
 * together, but not what it is about. Run through the index's own
 * tokenizer, so they match its stemmed terms. */
static const char stop_text[] =
    "a about after again all also am an and any are as at be been being both but by can could "
    "did do does doing during each few for from further had has have having he her here hers "
    "him his how i if in into is it its itself just me more most my no nor not now of on once "
    "only or other our ours same she should so some such than that the their theirs them then "
    "there these they this those through to too until very was we were what when where which "
    "while who whom whose why will with would you your yours get got many much please tell "
    "know";

typedef struct collect {
    rag_qterms *q;
    int stop; /* collecting the stop words: set their weight to 0 */
} collect;

static long find_term(const rag_qterms *q, const char *t, size_t n)
{
    for (size_t i = 0; i < q->n; i++)
        if (strlen(q->term[i]) == n && !memcmp(q->term[i], t, n)) return (long)i;
    return -1;
}

static int add_term(void *ctx, const char *t, size_t n, size_t a, size_t b)
{
    (void)a, (void)b;
    collect *c = ctx;
    long i = find_term(c->q, t, n);
    if (c->stop) {
        if (i >= 0) c->q->weight[i] = 0;
        return 0;
    }
    if (i >= 0 || c->q->n == RAG_QTERMS_MAX) return 0;
    c->q->term[c->q->n] = rag_xstrndup(t, n);
    c->q->weight[c->q->n++] = 1; /* weighed below */
    return 0;
}

int rag_qterms_init(store *s, const char *question, const int64_t *doc_ids, size_t n_docs,
                    rag_qterms *q, rag_err *err)
{
    memset(q, 0, sizeof *q);
    int64_t *groups = NULL;
    size_t n_groups = 0;
    collect c = {q, 0};
    int rc = store_doc_groups(s, doc_ids, n_docs, &groups, &n_groups, err);
    if (!rc) rc = store_terms(s, question, strlen(question), 1, add_term, &c, err);
    for (size_t i = 0; !rc && i < q->n; i++) {
        int64_t df = 0, total = 0;
        rc = store_term_stats(s, q->term[i], strlen(q->term[i]), groups, n_groups, &df, &total,
                              err);
        /* BM25's IDF, floored so a term in every chunk still counts a little */
        double idf = log(1.0 + ((double)total - (double)df + 0.5) / ((double)df + 0.5));
        q->weight[i] = idf < 0.01 ? 0.01 : idf;
    }
    c.stop = 1;
    if (!rc) rc = store_terms(s, stop_text, sizeof stop_text - 1, 0, add_term, &c, err);
    /* a question made only of such words ("what is it?") keeps them */
    double total = 0;
    for (size_t i = 0; i < q->n; i++)
        total += q->weight[i];
    if (!rc && total == 0 && q->n) {
        for (size_t i = 0; i < q->n; i++)
            q->weight[i] = 1;
        total = (double)q->n;
    }
    q->total = total;
    rag_free(groups);
    if (rc) rag_qterms_free(q);
    return rc;
}

typedef struct match {
    const rag_qterms *q;
    unsigned char *seen;
    size_t n_words;
} match;

static int match_term(void *ctx, const char *t, size_t n, size_t a, size_t b)
{
    (void)a, (void)b;
    match *m = ctx;
    m->n_words++;
    long i = find_term(m->q, t, n);
    if (i >= 0) m->seen[i] = 1;
    return 0;
}

int rag_qterms_match(store *s, const rag_qterms *q, const char *text, size_t len,
                     unsigned char *seen, size_t *n_words, rag_err *err)
{
    match m = {q, seen, 0};
    int rc = text && len ? store_terms(s, text, len, 0, match_term, &m, err) : 0;
    if (n_words) *n_words = m.n_words;
    return rc;
}

double rag_qterms_weight(const rag_qterms *q, const unsigned char *seen)
{
    double w = 0;
    for (size_t i = 0; i < q->n; i++)
        if (seen[i]) w += q->weight[i];
    return w;
}

void rag_qterms_free(rag_qterms *q)
{
    for (size_t i = 0; i < q->n; i++)
        rag_free(q->term[i]);
    memset(q, 0, sizeof *q);
}

void rag_cutoff_settings(const rag_settings *s, rag_cutoff *c)
{
    c->min_keyword = s->answer.min_keyword;
    c->min_vector = s->answer.min_vector;
    c->min_rerank = s->answer.min_rerank;
}

int rag_relevance(store *s, const char *question, rag_results *r, const rag_cutoff *c,
                  rag_err *err)
{
    if (!r->n) return 0;
    int64_t *docs = rag_xcalloc(r->n, sizeof *docs);
    for (size_t i = 0; i < r->n; i++)
        docs[i] = r->v[i].hit.document_id;
    rag_qterms q;
    int rc = rag_qterms_init(s, question, docs, r->n, &q, err);
    rag_free(docs);
    for (size_t i = 0; !rc && i < r->n; i++) {
        rag_result *x = &r->v[i];
        unsigned char seen[RAG_QTERMS_MAX] = {0};
        const char *parts[] = {x->hit.text, x->hit.title, x->hit.heading_path};
        for (size_t p = 0; !rc && p < 3; p++)
            rc = rag_qterms_match(s, &q, parts[p], parts[p] ? strlen(parts[p]) : 0, seen, NULL,
                                  err);
        x->lexical = q.total > 0 ? rag_qterms_weight(&q, seen) / q.total : 0;
        if (x->rerank_rank)
            x->relevant = 1.0 / (1.0 + exp(-x->rerank_score)) >= c->min_rerank;
        else
            x->relevant = x->lexical >= c->min_keyword - 1e-12 ||
                          (x->vec_rank && x->vec_score >= c->min_vector);
    }
    rag_qterms_free(&q);
    return rc;
}

void rag_cutoff_apply(rag_results *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->v[i].relevant) {
            rag_result_clear(&r->v[i]);
            r->n_below++;
            continue;
        }
        if (kept != i) r->v[kept] = r->v[i];
        kept++;
    }
    r->n = kept;
}
