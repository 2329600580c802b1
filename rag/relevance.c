/* rag/relevance.c: question terms, the lexical share of a passage and the
 * relevance cutoff (see rag/relevance.h). */
#include "rag/relevance.h"
#include "base/mem.h"
#include "base/sentence.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* English words that say what kind of question it is ("how long does it
 * take"), or hold a sentence together, but not what it is about. Run
 * through the index's own tokenizer, so they match its stemmed terms. */
const char rag_function_words[] =
    "a about after again all also am an and any are as at be been being both but by can could "
    "did do does doing during each few for from further had has have having he her here hers "
    "him his how i if in into is it its itself just me more most my no nor not now of on once "
    "only or other our ours same she should so some such than that the their theirs them then "
    "there these they this those through to too until very was we were what when where which "
    "while who whom whose why will with would you your yours get got many much please tell "
    "know need take happen use make go let long often soon quickly far";

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

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
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
        rc =
            store_term_stats(s, q->term[i], strlen(q->term[i]), groups, n_groups, &df, &total, err);
        /* BM25's IDF, floored so a term in every chunk still counts a little */
        double idf = log(1.0 + ((double)total - (double)df + 0.5) / ((double)df + 0.5));
        q->weight[i] = idf < 0.01 ? 0.01 : idf;
        /* a word none of these documents use may be the user's own word for
         * one they do use: it counts, but half */
        if (!df) q->weight[i] *= 0.5;
    }
    c.stop = 1;
    if (!rc)
        rc = store_terms(s, rag_function_words, strlen(rag_function_words), 0, add_term, &c, err);
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
    /* the focus: the heaviest RAG_QTERMS_FOCUS of the weighted terms (at
     * least 3): the incidental words of a long question ("I think I
     * accidentally emailed ...") do not count against a passage */
    double w[RAG_QTERMS_MAX];
    size_t nw = 0;
    for (size_t i = 0; i < q->n; i++)
        if (q->weight[i] > 0) w[nw++] = q->weight[i];
    qsort(w, nw, sizeof *w, cmp_desc);
    size_t k = (size_t)ceil(RAG_QTERMS_FOCUS * (double)nw);
    k = k < 3 ? 3 : k;
    k = k > nw ? nw : k;
    for (size_t i = 0; i < k; i++)
        q->focus += w[i];
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
    c->trim = s->answer.trim_passages;
}

/* The lexical share of a passage: the best of its windows of RELEVANCE_WINDOW
 * consecutive sentences, each with the title and headings (a passage that
 * holds the question's words in one place, not scattered over unrelated
 * sentences). With trim, also the span a prompt gives of it (rag/relevance.h,
 * trimming), from the same pass over its sentences. */
enum { RELEVANCE_WINDOW = 2 };

static int passage_share(store *s, const rag_qterms *q, rag_result *x, int trim, rag_err *err)
{
    const store_hit *h = &x->hit;
    unsigned char head[RAG_QTERMS_MAX] = {0}, sent[RELEVANCE_WINDOW][RAG_QTERMS_MAX];
    memset(sent, 0, sizeof sent);
    int rc = rag_qterms_match(s, q, h->title, h->title ? strlen(h->title) : 0, head, NULL, err);
    if (!rc)
        rc = rag_qterms_match(s, q, h->heading_path, h->heading_path ? strlen(h->heading_path) : 0,
                              head, NULL, err);
    const char *text = h->text ? h->text : "";
    size_t len = strlen(text), i = 0, k = 0;
    /* the starts of the sentences, the first and last that bear on the question */
    size_t *starts = NULL, n_starts = 0, first = SIZE_MAX, last = 0;
    double best = 0;
    do {
        size_t sl = i < len ? rag_sentence_len(text + i, len - i) : 0;
        unsigned char *cur = sent[k % RELEVANCE_WINDOW];
        memset(cur, 0, RAG_QTERMS_MAX);
        if (!rc && sl) rc = rag_qterms_match(s, q, text + i, sl, cur, NULL, err);
        if (trim && sl) {
            starts = rag_xrealloc(starts, (n_starts + 1) * sizeof *starts);
            starts[n_starts] = i;
            if (q->focus > 0 && rag_qterms_weight(q, cur) >= RAG_TRIM_SHARE * q->focus - 1e-12) {
                if (first == SIZE_MAX) first = n_starts;
                last = n_starts;
            }
            n_starts++;
        }
        unsigned char win[RAG_QTERMS_MAX];
        for (size_t t = 0; t < q->n; t++) {
            win[t] = head[t];
            for (size_t w = 0; w < RELEVANCE_WINDOW; w++)
                win[t] |= sent[w][t];
        }
        double share = q->focus > 0 ? rag_qterms_weight(q, win) / q->focus : 0;
        if (share > best) best = share > 1 ? 1 : share;
        i += sl;
        k++;
    } while (!rc && i < len);
    x->lexical = best;
    x->span_start = x->span_end = 0;
    if (!rc && first != SIZE_MAX) {
        size_t from = first > RAG_TRIM_CONTEXT ? first - RAG_TRIM_CONTEXT : 0,
               to = last + RAG_TRIM_CONTEXT + 1; /* the sentence after the span */
        x->span_start = starts[from];
        x->span_end = to < n_starts ? starts[to] : len;
        if (x->span_start == 0 && x->span_end == len) x->span_end = 0; /* all of it */
    }
    rag_free(starts);
    return rc;
}

int rag_relevance(store *s, const char *question, rag_results *r, const rag_cutoff *c, rag_err *err)
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
        rc = passage_share(s, &q, x, c->trim, err);
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
