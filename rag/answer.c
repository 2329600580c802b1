/* rag/answer.c: the extractive answer.
 *
 * Scoring: each question term (index terms: folded, stemmed; CJK bigrams)
 * gets an IDF weight from the keyword index, so words like "the" count for
 * almost nothing. A sentence scores the summed weight of the distinct
 * question terms it contains, plus half the weight of those only found in
 * its chunk's heading path (a sentence under "Urgent purchases" is about
 * urgent purchases), damped by the rank of its chunk (the retriever already
 * judged the chunk as a whole). Headings, very short fragments and
 * repeats (overlapping chunks share sentences) are not quoted. Sentences
 * scoring under a third of the best are left out rather than padding the
 * answer. */
#include "rag/answer.h"
#include "base/buf.h"
#include "base/mem.h"
#include "base/sentence.h"
#include "base/utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TERMS 64

void rag_extractive_default_params(rag_extractive_params *p)
{
    p->max_sentences = 3;
    p->min_words = 4;
}

typedef struct qterm {
    char *term;
    double idf;
} qterm;

typedef struct qterms {
    qterm v[MAX_TERMS];
    size_t n;
} qterms;

static int add_qterm(void *ctx, const char *t, size_t n, size_t a, size_t b)
{
    (void)a, (void)b;
    qterms *q = ctx;
    for (size_t i = 0; i < q->n; i++)
        if (strlen(q->v[i].term) == n && !memcmp(q->v[i].term, t, n)) return 0;
    if (q->n == MAX_TERMS) return 1;
    q->v[q->n++].term = rag_xstrndup(t, n);
    return 0;
}

typedef struct match_ctx {
    const qterms *q;
    unsigned char seen[MAX_TERMS];
    size_t n_terms; /* all terms of the sentence: a word count for length rules */
} match_ctx;

static int match_term(void *ctx, const char *t, size_t n, size_t a, size_t b)
{
    (void)a, (void)b;
    match_ctx *m = ctx;
    m->n_terms++;
    for (size_t i = 0; i < m->q->n; i++)
        if (strlen(m->q->v[i].term) == n && !memcmp(m->q->v[i].term, t, n)) m->seen[i] = 1;
    return 0;
}

typedef struct cand {
    double score;
    size_t hit;    /* index into hits */
    size_t offset; /* position in the chunk, for stable ordering */
    char *text;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    if (x->hit != y->hit) return x->hit < y->hit ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Is `line` one of the headings of the chunk's heading path? */
static int is_heading(const char *line, size_t len, const char *path)
{
    const char *sep = " \xE2\x80\xBA "; /* " › " */
    while (path && *path) {
        const char *e = strstr(path, sep);
        size_t l = e ? (size_t)(e - path) : strlen(path);
        if (l == len && !memcmp(path, line, len)) return 1;
        path = e ? e + strlen(sep) : NULL;
    }
    return 0;
}

static int cjk_heavy(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, cjk = 0;
    while (i < n) {
        int32_t cp;
        size_t l = rag_utf8_decode(p + i, n - i, &cp);
        if (!l) {
            i++;
            continue;
        }
        cjk += rag_cp_is_cjk(cp);
        i += l;
    }
    return cjk >= 6;
}

/* The sentence as quoted: without a leading list marker ("- ", "* ", "• ",
 * "3. ") and with its line breaks turned into spaces. */
static char *one_line(const char *s, size_t n)
{
    size_t m = 0;
    if (n > 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && s[1] == ' ')
        m = 2;
    else if (n > 4 && !memcmp(s, "\xE2\x80\xA2 ", 4))
        m = 4;
    else {
        while (m < n && m < 3 && s[m] >= '0' && s[m] <= '9')
            m++;
        m = (m && m + 1 < n && (s[m] == '.' || s[m] == ')') && s[m + 1] == ' ') ? m + 2 : 0;
    }
    s += m;
    n -= m;
    char *d = rag_xstrndup(s, n);
    for (char *c = d; *c; c++)
        if (*c == '\n') *c = ' ';
    return d;
}

static rag_citation *citation_for(rag_answer *a, const store_hit *h)
{
    for (size_t i = 0; i < a->n_citations; i++)
        if (a->citations[i].chunk_id == h->chunk_id) return &a->citations[i];
    a->citations = rag_xrealloc(a->citations, (a->n_citations + 1) * sizeof *a->citations);
    rag_citation *c = &a->citations[a->n_citations];
    memset(c, 0, sizeof *c);
    c->n = (int)++a->n_citations;
    c->document_id = h->document_id;
    c->chunk_id = h->chunk_id;
    c->uri = rag_xstrdup(h->uri);
    c->title = rag_xstrdup(h->title);
    c->heading_path = rag_xstrdup(h->heading_path);
    return c;
}

int rag_answer_extractive(store *s, const char *question, const store_hits *hits,
                          const rag_extractive_params *p, rag_answer *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    rag_extractive_params defaults;
    if (!p) {
        rag_extractive_default_params(&defaults);
        p = &defaults;
    }
    qterms q = {0};
    /* IDF from the keyword indexes of the hits' groups: groups the caller
     * may see, whatever else the database holds. */
    int64_t *doc_ids = rag_xcalloc(hits->n ? hits->n : 1, sizeof *doc_ids), *groups = NULL;
    size_t n_groups = 0;
    for (size_t h = 0; h < hits->n; h++)
        doc_ids[h] = hits->v[h].document_id;
    int rc = store_doc_groups(s, doc_ids, hits->n, &groups, &n_groups, err);
    rag_free(doc_ids);
    if (!rc) rc = store_terms(s, question, strlen(question), 1, add_qterm, &q, err);
    for (size_t i = 0; !rc && i < q.n; i++) {
        int64_t df = 0, total = 0;
        rc = store_term_stats(s, q.v[i].term, strlen(q.v[i].term), groups, n_groups, &df, &total,
                              err);
        /* BM25's IDF, floored so a term in every chunk still counts a little */
        double idf = log(1.0 + ((double)total - (double)df + 0.5) / ((double)df + 0.5));
        q.v[i].idf = idf < 0.01 ? 0.01 : idf;
    }

    cand *cands = NULL;
    size_t n_cands = 0, cap = 0;
    for (size_t h = 0; !rc && h < hits->n; h++) {
        const char *text = hits->v[h].text;
        size_t len = text ? strlen(text) : 0, i = 0;
        match_ctx ctx_terms = {.q = &q}; /* question terms in the heading path */
        const char *hp = hits->v[h].heading_path;
        rc = store_terms(s, hp, strlen(hp), 0, match_term, &ctx_terms, err);
        while (i < len) {
            while (i < len && (text[i] == ' ' || text[i] == '\n'))
                i++;
            if (i >= len) break;
            size_t sl = rag_sentence_len(text + i, len - i);
            match_ctx m = {.q = &q};
            rc = store_terms(s, text + i, sl, 0, match_term, &m, err);
            if (rc) break;
            double score = 0, own = 0;
            for (size_t t = 0; t < q.n; t++) {
                if (m.seen[t])
                    own += q.v[t].idf;
                else if (ctx_terms.seen[t])
                    score += 0.5 * q.v[t].idf;
            }
            score = own > 0 ? own + score : 0; /* the sentence itself must match */
            int long_enough = m.n_terms >= p->min_words || cjk_heavy(text + i, sl);
            if (score > 0 && long_enough && !is_heading(text + i, sl, hits->v[h].heading_path)) {
                cands = rag_xgrow(cands, &cap, n_cands + 1, sizeof *cands);
                cands[n_cands++] =
                    (cand){score / (1.0 + 0.15 * (double)h), h, i, one_line(text + i, sl)};
            }
            i += sl;
        }
    }
    if (!rc && n_cands) {
        qsort(cands, n_cands, sizeof *cands, cmp_cand);
        double floor = cands[0].score / 3.0;
        rag_buf text = {0};
        out->sentences = rag_xcalloc(p->max_sentences, sizeof *out->sentences);
        for (size_t i = 0; i < n_cands && out->n_sentences < p->max_sentences; i++) {
            if (cands[i].score < floor) break;
            int dup = 0;
            for (size_t j = 0; j < out->n_sentences && !dup; j++)
                dup = !strcmp(out->sentences[j].text, cands[i].text);
            if (dup) continue;
            rag_citation *c = citation_for(out, &hits->v[cands[i].hit]);
            if (c->quote) {
                char *joined = rag_xasprintf("%s %s", c->quote, cands[i].text);
                rag_free(c->quote);
                c->quote = joined;
            } else {
                c->quote = rag_xstrdup(cands[i].text);
            }
            rag_answer_sentence *as = &out->sentences[out->n_sentences++];
            as->text = rag_xstrdup(cands[i].text);
            as->citation = c->n;
            rag_buf_printf(&text, "%s%s [%d]", text.len ? "\n" : "", as->text, c->n);
        }
        out->text = rag_buf_steal(&text);
    }
    if (!out->n_sentences) { /* what both programs answer when nothing matches */
        rag_free(out->text);
        out->text = rag_xstrdup(RAG_ANSWER_NONE);
    }
    for (size_t i = 0; i < n_cands; i++)
        rag_free(cands[i].text);
    rag_free(cands);
    for (size_t i = 0; i < q.n; i++)
        rag_free(q.v[i].term);
    rag_free(groups);
    if (rc) rag_answer_free(out);
    return rc;
}

void rag_answer_free(rag_answer *a)
{
    rag_free(a->text);
    for (size_t i = 0; i < a->n_sentences; i++)
        rag_free(a->sentences[i].text);
    rag_free(a->sentences);
    for (size_t i = 0; i < a->n_citations; i++) {
        rag_free(a->citations[i].uri);
        rag_free(a->citations[i].title);
        rag_free(a->citations[i].heading_path);
        rag_free(a->citations[i].quote);
    }
    rag_free(a->citations);
    memset(a, 0, sizeof *a);
}
