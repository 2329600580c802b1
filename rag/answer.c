/* rag/answer.c: the extractive answer.
 *
 * Units: the sentences of the retrieved passages (base/sentence.h: also
 * list items and table rows, each a unit of its own).
 *
 * Scoring: the question's terms weigh what rag/relevance.h gives them (IDF
 * over the groups of the passages, function words nothing). A unit scores
 * the weight of the question terms it holds, plus half the weight of those
 * found only in its passage's title or headings (a sentence under "Urgent
 * purchases" is about urgent purchases), as a share of the question's
 * focus; then:
 *   - question cues (English): a question asking for an amount, a time or a
 *     duration ("how many", "how long", "when", "deadline", "limit", ...)
 *     prefers units holding a number (x1.4, without one x0.85); a "who"
 *     question prefers units naming a role or a person (x1.25);
 *   - a unit that only introduces what follows (ending in ':') counts less
 *     (x0.6): the answer is in the list after it;
 *   - the passage's rank damps it (the retriever judged the passage as a
 *     whole): / (1 + 0.15 rank);
 *   - with a reranker (rag_extractive_params.reranker), the best
 *     EXTRACT_RERANK units are scored again by it, pairing the question with
 *     each unit, and its probability counts as much as the lexical score.
 * The unit must hold a question term itself. Headings, very short
 * fragments and near-duplicates (word sets 70% the same as a unit already
 * quoted: overlapping chunks share sentences) are not quoted. Units scoring
 * under a third of the best are left out rather than padding the answer;
 * the rest are quoted best first. */
#include "rag/answer.h"
#include "base/buf.h"
#include "base/mem.h"
#include "base/sentence.h"
#include "base/utf8.h"
#include "rag/relevance.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { EXTRACT_RERANK = 12 };

void rag_extractive_default_params(rag_extractive_params *p)
{
    memset(p, 0, sizeof *p);
    p->max_sentences = 3;
    p->min_words = 4;
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

/* ---- question cues ------------------------------------------------------------- */

enum { CUE_AMOUNT = 1, CUE_WHO = 2 };

/* Does the lowercase ASCII text hold word w (at word boundaries)? */
static int has_word(const char *text, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(text, w); p; p = strstr(p + 1, w)) {
        int before = p == text || !isalnum((unsigned char)p[-1]);
        int after = !isalnum((unsigned char)p[n]);
        if (before && after) return 1;
    }
    return 0;
}

static unsigned question_cues(const char *question)
{
    char *lc = rag_xstrdup(question);
    for (char *c = lc; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    static const char *const amount[] = {
        "how many",  "how much",  "how long", "how often", "how soon",   "how quickly",
        "how far",   "how old",   "how big",  "when",      "what time",  "which day",
        "deadline",  "limit",     "maximum",  "minimum",   "percentage", "percent",
        "rate",      "cost",      "price",    "amount",    "number",     "date",
        "hours",     "by when",   "until",    "threshold", "what age",   "phone",
        "extension", "how large", "how high", "how fast",  "how early",  "how late"};
    static const char *const who[] = {"who",        "whom",         "whose",
                                      "which team", "which person", "which department"};
    unsigned cues = 0;
    for (size_t i = 0; i < sizeof amount / sizeof *amount && !cues; i++)
        if (has_word(lc, amount[i])) cues |= CUE_AMOUNT;
    for (size_t i = 0; i < sizeof who / sizeof *who; i++)
        if (has_word(lc, who[i])) cues |= CUE_WHO;
    rag_free(lc);
    return cues;
}

static int has_digit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= '0' && s[i] <= '9') return 1;
    return 0;
}

/* A role or a person: a role word, or two capitalised words in a row that
 * do not start the unit ("Priya Nair"). */
static int names_someone(const char *s, size_t n)
{
    static const char *const roles[] = {
        "manager",  "supervisor", "team",   "officer", "controller", "director",  "head",
        "hr",       "lead",       "clerk",  "desk",    "office",     "cfo",       "ceo",
        "mechanic", "accountant", "deputy", "owner",   "contact",    "department"};
    char *lc = rag_xstrndup(s, n);
    for (char *c = lc; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    int yes = 0;
    for (size_t i = 0; i < sizeof roles / sizeof *roles && !yes; i++)
        yes = has_word(lc, roles[i]);
    rag_free(lc);
    for (size_t i = 1; !yes && i + 1 < n; i++) {
        if (s[i - 1] != ' ' || !isupper((unsigned char)s[i])) continue;
        size_t j = i;
        while (j < n && isalpha((unsigned char)s[j]))
            j++;
        yes = j + 2 < n && s[j] == ' ' && isupper((unsigned char)s[j + 1]) && j - i > 1;
    }
    return yes;
}

/* ---- near-duplicates -------------------------------------------------------------- */

/* The share of the smaller word set found in the other (case folded ASCII
 * words): 1 when one unit repeats the other. */
static double overlap(const char *a, const char *b)
{
    size_t na = 0, found = 0;
    for (const char *p = a; *p;) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        const char *w = p;
        while (*p && isalnum((unsigned char)*p))
            p++;
        if (p == w) break;
        na++;
        size_t l = (size_t)(p - w);
        for (const char *q = b; *q;) {
            while (*q && !isalnum((unsigned char)*q))
                q++;
            const char *v = q;
            while (*q && isalnum((unsigned char)*q))
                q++;
            if ((size_t)(q - v) == l && !strncasecmp(v, w, l)) {
                found++;
                break;
            }
        }
    }
    return na ? (double)found / (double)na : 0;
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

static int quote_units(store *s, const rag_qterms *q, unsigned cues, const store_hits *hits,
                       const rag_extractive_params *p, cand **out, size_t *n_out, rag_err *err)
{
    cand *cands = NULL;
    size_t n_cands = 0, cap = 0;
    int rc = 0;
    for (size_t h = 0; !rc && h < hits->n; h++) {
        const char *text = hits->v[h].text;
        size_t len = text ? strlen(text) : 0, i = 0;
        unsigned char head[RAG_QTERMS_MAX] = {0}; /* question terms in the title or headings */
        const char *hp = hits->v[h].heading_path, *title = hits->v[h].title;
        rc = rag_qterms_match(s, q, hp, hp ? strlen(hp) : 0, head, NULL, err);
        if (!rc) rc = rag_qterms_match(s, q, title, title ? strlen(title) : 0, head, NULL, err);
        while (!rc && i < len) {
            while (i < len && (text[i] == ' ' || text[i] == '\n'))
                i++;
            if (i >= len) break;
            size_t sl = rag_sentence_len(text + i, len - i), n_words = 0;
            unsigned char seen[RAG_QTERMS_MAX] = {0};
            rc = rag_qterms_match(s, q, text + i, sl, seen, &n_words, err);
            if (rc) break;
            double own = rag_qterms_weight(q, seen), ctx = 0;
            for (size_t t = 0; t < q->n; t++)
                if (!seen[t] && head[t]) ctx += q->weight[t];
            int long_enough = n_words >= p->min_words || cjk_heavy(text + i, sl);
            if (own > 0 && long_enough && !is_heading(text + i, sl, hits->v[h].heading_path)) {
                double score = (own + 0.5 * ctx) / (q->focus > 0 ? q->focus : 1);
                if (cues & CUE_AMOUNT) score *= has_digit(text + i, sl) ? 1.4 : 0.85;
                if ((cues & CUE_WHO) && names_someone(text + i, sl)) score *= 1.25;
                size_t e = sl;
                while (e > 0 && (text[i + e - 1] == ' ' || text[i + e - 1] == '\n'))
                    e--;
                if (e > 0 && text[i + e - 1] == ':') score *= 0.6;
                cands = rag_xgrow(cands, &cap, n_cands + 1, sizeof *cands);
                cands[n_cands++] =
                    (cand){score / (1.0 + 0.15 * (double)h), h, i, one_line(text + i, sl)};
            }
            i += sl;
        }
    }
    *out = cands;
    *n_out = n_cands;
    return rc;
}

/* The reranker's probability for the best candidates (sorted), counted as
 * much as their lexical score (scaled to the best). */
static int rerank_units(emb_model *rr, const char *question, cand *c, size_t n, rag_err *err)
{
    size_t m = n < EXTRACT_RERANK ? n : EXTRACT_RERANK;
    if (!m) return 0;
    const char **texts = rag_xcalloc(m, sizeof *texts);
    float *scores = rag_xcalloc(m, sizeof *scores);
    for (size_t i = 0; i < m; i++)
        texts[i] = c[i].text;
    int rc = emb_rerank(rr, question, texts, m, scores, err);
    double best = c[0].score > 0 ? c[0].score : 1;
    for (size_t i = 0; !rc && i < m; i++)
        c[i].score = 0.5 * c[i].score / best + 0.5 / (1.0 + exp(-(double)scores[i]));
    if (!rc) qsort(c, m, sizeof *c, cmp_cand);
    rag_free(texts);
    rag_free(scores);
    return rc;
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
    /* weights from the keyword indexes of the hits' groups: groups the
     * caller may see, whatever else the database holds */
    int64_t *doc_ids = rag_xcalloc(hits->n ? hits->n : 1, sizeof *doc_ids);
    for (size_t h = 0; h < hits->n; h++)
        doc_ids[h] = hits->v[h].document_id;
    rag_qterms q;
    int rc = rag_qterms_init(s, question, doc_ids, hits->n, &q, err);
    rag_free(doc_ids);
    if (rc) return rc;
    cand *cands = NULL;
    size_t n_cands = 0;
    rc = quote_units(s, &q, question_cues(question), hits, p, &cands, &n_cands, err);
    if (!rc && n_cands) qsort(cands, n_cands, sizeof *cands, cmp_cand);
    if (!rc && n_cands && p->reranker)
        rc = rerank_units(p->reranker, question, cands, n_cands, err);
    if (!rc && n_cands) {
        double floor = cands[0].score / 3.0;
        rag_buf text = {0};
        out->sentences = rag_xcalloc(p->max_sentences, sizeof *out->sentences);
        for (size_t i = 0; i < n_cands && out->n_sentences < p->max_sentences; i++) {
            if (cands[i].score < floor) break;
            int dup = 0;
            for (size_t j = 0; j < out->n_sentences && !dup; j++) {
                const char *a = out->sentences[j].text, *b = cands[i].text;
                dup = overlap(a, b) >= 0.7 || overlap(b, a) >= 0.7;
            }
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
    rag_qterms_free(&q);
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
