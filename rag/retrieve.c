/* rag/retrieve.c: hybrid retrieval (see rag/retrieve.h). */
#include "rag/retrieve.h"
#include "base/buf.h"
#include "base/mem.h"
#include "base/time.h"
#include "base/utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rag_retrieve_default_params(rag_retrieve_params *p)
{
    memset(p, 0, sizeof *p);
    p->k = 10;
    p->keyword = p->vector = 1;
    p->rrf_k = 60;
    p->dedupe = 1;
    p->dup_jaccard = 0.85;
    p->want_snippet = 1;
    p->hl_open = "**";
    p->hl_close = "**";
}

void rag_retrieve_settings(const rag_settings *s, const char *mode, rag_retrieve_params *p)
{
    rag_retrieve_default_params(p);
    p->k = (size_t)s->search.k;
    p->keyword = !mode || strcmp(mode, "vector");
    p->vector = !mode || strcmp(mode, "keyword");
    p->candidates = (size_t)s->search.candidates;
    p->rerank_top = (size_t)s->rerank.top;
    p->rrf_k = (int)s->search.rrf_k;
    p->dedupe = s->search.dedupe;
    p->dup_jaccard = s->search.dup_similarity;
}

static void hit_move(store_hit *dst, store_hit *src)
{
    *dst = *src;
    memset(src, 0, sizeof *src);
}

static void hit_free(store_hit *h)
{
    rag_free(h->uri);
    rag_free(h->ext_id);
    rag_free(h->title);
    rag_free(h->heading_path);
    rag_free(h->snippet);
    rag_free(h->text);
    memset(h, 0, sizeof *h);
}

void rag_result_clear(rag_result *x)
{
    hit_free(&x->hit);
}

void rag_results_free(rag_results *r)
{
    for (size_t i = 0; i < r->n; i++)
        hit_free(&r->v[i].hit);
    rag_free(r->v);
    memset(r, 0, sizeof *r);
}

/* The result for chunk id, added when new. */
static rag_result *slot(rag_results *r, size_t *cap, store_hit *h)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].hit.chunk_id == h->chunk_id) return &r->v[i];
    r->v = rag_xgrow(r->v, cap, r->n + 1, sizeof *r->v);
    rag_result *x = &r->v[r->n++];
    memset(x, 0, sizeof *x);
    hit_move(&x->hit, h);
    return x;
}

static int cmp_score(const void *a, const void *b)
{
    const rag_result *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->hit.chunk_id < y->hit.chunk_id ? -1 : x->hit.chunk_id > y->hit.chunk_id;
}

/* ---- near duplicates: word 3-shingles, Jaccard similarity ----------------- */

typedef struct shingles {
    uint64_t *v; /* sorted, unique hashes */
    size_t n;
} shingles;

static uint64_t fnv(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Hashes of every three consecutive words (case folded) of text. */
static void make_shingles(const char *text, shingles *out)
{
    rag_buf folded = {0};
    rag_utf8_fold(text, strlen(text), &folded);
    const char *s = rag_buf_str(&folded);
    size_t cap = 0, nw = 0;
    uint64_t w[3] = {0};
    out->v = NULL;
    out->n = 0;
    while (*s) {
        while (*s &&
               !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || (unsigned char)*s >= 0x80))
            s++;
        const char *b = s;
        while (*s &&
               ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || (unsigned char)*s >= 0x80))
            s++;
        if (s == b) break;
        w[0] = w[1], w[1] = w[2], w[2] = fnv(b, (size_t)(s - b), 1469598103934665603ull);
        if (++nw >= 3) {
            out->v = rag_xgrow(out->v, &cap, out->n + 1, sizeof *out->v);
            out->v[out->n++] = w[0] * 31 + w[1] * 17 + w[2];
        }
    }
    rag_buf_free(&folded);
    if (out->n > 1) {
        qsort(out->v, out->n, sizeof *out->v, cmp_u64);
        size_t u = 1;
        for (size_t i = 1; i < out->n; i++)
            if (out->v[i] != out->v[u - 1]) out->v[u++] = out->v[i];
        out->n = u;
    }
}

static double jaccard(const shingles *a, const shingles *b)
{
    if (!a->n || !b->n) return 0;
    size_t i = 0, j = 0, both = 0;
    while (i < a->n && j < b->n) {
        if (a->v[i] == b->v[j])
            both++, i++, j++;
        else if (a->v[i] < b->v[j])
            i++;
        else
            j++;
    }
    return (double)both / (double)(a->n + b->n - both);
}

/* Keeps, in order, the first `limit` results that are neither a better
 * result's near-duplicate nor (per_document) a better result's document.
 * Stopping at the limit keeps the pairwise comparisons to candidates x
 * limit. */
static void collapse(rag_results *r, const rag_retrieve_params *p, size_t limit)
{
    shingles *sh = rag_xcalloc(r->n ? r->n : 1, sizeof *sh);
    size_t kept = 0, i = 0;
    for (; i < r->n && kept < limit; i++) {
        int drop = 0;
        if (p->dedupe) make_shingles(r->v[i].hit.text ? r->v[i].hit.text : "", &sh[i]);
        for (size_t j = 0; j < kept && !drop; j++) {
            if (p->per_document && r->v[j].hit.document_id == r->v[i].hit.document_id)
                drop = 1;
            else if (p->dedupe && jaccard(&sh[j], &sh[i]) >= p->dup_jaccard) {
                drop = 1;
                r->n_duplicates++;
            }
        }
        if (drop) {
            hit_free(&r->v[i].hit);
            rag_free(sh[i].v);
            continue;
        }
        if (kept != i) {
            r->v[kept] = r->v[i];
            sh[kept] = sh[i];
        }
        kept++;
    }
    for (; i < r->n; i++)
        hit_free(&r->v[i].hit);
    for (size_t j = 0; j < kept; j++)
        rag_free(sh[j].v);
    rag_free(sh);
    r->n = kept;
}

int rag_retrieve(store *s, emb_model *embedder, emb_model *reranker, const char *query,
                 const rag_principal *who, const rag_retrieve_params *p, rag_results *out,
                 rag_err *err)
{
    memset(out, 0, sizeof *out);
    rag_retrieve_params defaults;
    if (!p) {
        rag_retrieve_default_params(&defaults);
        p = &defaults;
    }
    size_t cand = p->candidates ? p->candidates : (4 * p->k > 50 ? 4 * p->k : 50);
    size_t rerank_top = p->rerank_top ? p->rerank_top : (3 * p->k > 30 ? 3 * p->k : 30);
    if (reranker && rerank_top > cand) cand = rerank_top;
    store_search_params sp;
    store_search_default_params(&sp);
    sp.k = cand;
    sp.want_text = 1;
    /* keyword snippets only for the results kept (below), not every candidate */
    sp.want_snippet = 0;
    sp.hl_open = p->hl_open;
    sp.hl_close = p->hl_close;
    size_t cap = 0;
    int rc = 0, stages = 0;
    double t;

    if (p->keyword) {
        store_hits kh;
        t = rag_now_ms();
        rc = store_search_keyword(s, query, who, &sp, &kh, err);
        out->keyword_ms = rag_now_ms() - t;
        if (rc) return rc;
        out->kw_prof = kh.prof;
        for (size_t i = 0; i < kh.n; i++) {
            double score = kh.v[i].score;
            rag_result *x = slot(out, &cap, &kh.v[i]);
            x->kw_rank = (int)i + 1;
            x->kw_score = score;
        }
        store_hits_free(&kh);
        stages++;
    }
    if (p->vector && (embedder || p->query_vector)) {
        int dims = p->query_vector ? p->query_dims : emb_dims(embedder);
        float *q = rag_xmalloc((size_t)dims * sizeof *q);
        t = rag_now_ms();
        if (p->query_vector)
            memcpy(q, p->query_vector, (size_t)dims * sizeof *q);
        else {
            const char *text = p->embed_query ? p->embed_query : query;
            rc = emb_embed(embedder, &text, 1, EMB_QUERY, 1, q, NULL, err);
        }
        out->embed_ms = rag_now_ms() - t;
        store_hits vh = {0};
        if (!rc) {
            t = rag_now_ms();
            rc = store_search_vector(s, q, dims, who, &sp, &vh, err);
            out->vector_ms = rag_now_ms() - t;
        }
        rag_free(q);
        if (rc) {
            rag_results_free(out);
            return rc;
        }
        for (size_t i = 0; i < vh.n; i++) {
            double score = vh.v[i].score;
            rag_result *x = slot(out, &cap, &vh.v[i]);
            x->vec_rank = (int)i + 1;
            x->vec_score = score;
            if (!x->kw_rank && p->want_snippet && x->hit.text) {
                size_t n = strlen(x->hit.text), cut = n < 240 ? n : 240;
                while (cut < n && cut > 0 && ((unsigned char)x->hit.text[cut] & 0xC0) == 0x80)
                    cut--;
                x->hit.snippet = rag_xasprintf("%.*s%s", (int)cut, x->hit.text, cut < n ? "…" : "");
            }
        }
        store_hits_free(&vh);
        stages++;
    }

    /* fusion: with one stage its own order, with two reciprocal ranks */
    t = rag_now_ms();
    for (size_t i = 0; i < out->n; i++) {
        rag_result *x = &out->v[i];
        x->rrf_score = (x->kw_rank ? 1.0 / (p->rrf_k + x->kw_rank) : 0) +
                       (x->vec_rank ? 1.0 / (p->rrf_k + x->vec_rank) : 0);
        x->score = stages > 1 ? x->rrf_score : x->kw_rank ? x->kw_score : x->vec_score;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_score);
    collapse(out, p, reranker && rerank_top > p->k ? rerank_top : p->k);
    out->fuse_ms = rag_now_ms() - t;

    if (reranker && out->n) {
        size_t n = out->n < rerank_top ? out->n : rerank_top;
        const char **texts = rag_xcalloc(n, sizeof *texts);
        float *scores = rag_xcalloc(n, sizeof *scores);
        for (size_t i = 0; i < n; i++)
            texts[i] = out->v[i].hit.text ? out->v[i].hit.text : "";
        t = rag_now_ms();
        rc = emb_rerank(reranker, query, texts, n, scores, err);
        out->rerank_ms = rag_now_ms() - t;
        if (!rc) {
            /* reranked candidates first, in the reranker's order; the rest keep theirs */
            for (size_t i = 0; i < n; i++) {
                out->v[i].rerank_score = scores[i];
                out->v[i].score = 1e6 + scores[i];
            }
            qsort(out->v, n, sizeof *out->v, cmp_score);
            for (size_t i = 0; i < n; i++) {
                out->v[i].rerank_rank = (int)i + 1;
                out->v[i].score = out->v[i].rerank_score;
            }
        }
        rag_free(texts);
        rag_free(scores);
        if (rc) {
            rag_results_free(out);
            return rc;
        }
    }
    while (out->n > p->k)
        hit_free(&out->v[--out->n].hit);
    /* keyword hits get a highlighted snippet, found again in their group's index */
    t = rag_now_ms();
    store_hit **kw = rag_xcalloc(out->n ? out->n : 1, sizeof *kw);
    size_t n_kw = 0;
    for (size_t i = 0; p->want_snippet && i < out->n; i++)
        if (out->v[i].kw_rank) kw[n_kw++] = &out->v[i].hit;
    rc = store_search_snippets(s, query, &sp, kw, n_kw, err);
    rag_free(kw);
    if (rc) {
        rag_results_free(out);
        return rc;
    }
    out->kw_prof.snippet_ms += rag_now_ms() - t;
    out->keyword_ms += rag_now_ms() - t;
    return 0;
}
