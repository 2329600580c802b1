/* Role-scoped retrieval is exact at scale, for the keyword side and for
 * fusion: 50,000 chunks in 20 ACL groups, random principals. Nothing
 * outside the principal's groups ever comes back, and it gets exactly k
 * results whenever k visible chunks exist (k visible matching chunks for
 * the keyword side). The vector side is proven the same way in
 * test_vindex.c. */
#include "base/buf.h"
#include "base/mem.h"
#include "rag/retrieve.h"
#include "test.h"

#include <math.h>

#ifdef __SANITIZE_ADDRESS__
enum { N_DOCS = 400 }; /* sanitizers are slow: the same checks on fewer chunks */
#else
enum { N_DOCS = 2000 };
#endif
enum { N_GROUPS = 20, CHUNKS_PER_DOC = 25, DIMS = 16, VOCAB = 400, WORDS = 6 };

static uint64_t rng = 42;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

typedef struct corpus {
    int *group; /* per chunk: label index of its document's group */
    uint16_t (*words)[WORDS];
} corpus;

static void build(store *s, corpus *c, int64_t *model_id)
{
    rag_err err = {0};
    size_t n = (size_t)N_DOCS * CHUNKS_PER_DOC;
    c->group = rag_xcalloc(n, sizeof *c->group);
    c->words = rag_xcalloc(n, sizeof *c->words);
    store_model m = {.dims = DIMS, .normalized = 1};
    snprintf(m.name, sizeof m.name, "test");
    snprintf(m.file_sha256, sizeof m.file_sha256, "%064d", 0);
    snprintf(m.pooling, sizeof m.pooling, "mean");
    CHECK_INT(store_begin(s, &err), 0);
    CHECK_INT(store_model_ensure(s, &m, &err), 0);
    CHECK_INT(store_model_set_active(s, m.id, &err), 0);
    *model_id = m.id;
    int64_t groups[N_GROUPS];
    for (int g = 0; g < N_GROUPS; g++) {
        rag_strv l = {0};
        char name[16];
        snprintf(name, sizeof name, "g%d", g);
        rag_strv_push(&l, name);
        CHECK_INT(store_acl_group(s, &l, &groups[g], &err), 0);
        rag_strv_free(&l);
    }
    char texts[CHUNKS_PER_DOC][WORDS * 8];
    float vecs[CHUNKS_PER_DOC][DIMS];
    store_chunk_in ch[CHUNKS_PER_DOC];
    for (int d = 0; d < N_DOCS; d++) {
        int g = (int)(rnd() % N_GROUPS);
        for (int k = 0; k < CHUNKS_PER_DOC; k++) {
            size_t ci = (size_t)d * CHUNKS_PER_DOC + (size_t)k;
            c->group[ci] = g;
            char *p = texts[k];
            for (int w = 0; w < WORDS; w++) {
                c->words[ci][w] = (uint16_t)(rnd() % VOCAB);
                p += sprintf(p, "%sw%u", w ? " " : "", c->words[ci][w]);
            }
            double norm = 0;
            for (int i = 0; i < DIMS; i++)
                norm += (vecs[k][i] = (float)((int)(rnd() % 2001) - 1000));
            norm = 0;
            for (int i = 0; i < DIMS; i++)
                norm += (double)vecs[k][i] * vecs[k][i];
            for (int i = 0; i < DIMS; i++)
                vecs[k][i] /= (float)sqrt(norm);
            ch[k] = (store_chunk_in){.text = texts[k],
                                     .len = strlen(texts[k]),
                                     .n_tokens = WORDS,
                                     .byte_end = strlen(texts[k]),
                                     .heading_path = "",
                                     .vector = vecs[k]};
        }
        char uri[32];
        snprintf(uri, sizeof uri, "/d%d", d);
        store_doc_in doc = {.uri = uri,
                            .title = uri,
                            .mime = "text/plain",
                            .content_hash = "x",
                            .mtime_ns = 1,
                            .size = 1,
                            .acl_group = groups[g]};
        CHECK_INT(store_doc_replace(s, &doc, ch, CHUNKS_PER_DOC, m.id, DIMS, NULL, &err), 0);
        if (d % 200 == 199) {
            CHECK_INT(store_commit(s, &err), 0);
            CHECK_INT(store_begin(s, &err), 0);
        }
    }
    CHECK_INT(store_commit(s, &err), 0);
}

/* The chunk index (0-based, insertion order) from a chunk id: ids are
 * assigned 1.. in insertion order on a fresh database. */
static size_t idx(int64_t chunk_id)
{
    return (size_t)(chunk_id - 1);
}

static void test_exact_scoped_retrieval(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/scale.db", test_tmpdir());
    store *s;
    rag_err err = {0};
    CHECK_INT(store_open(path, NULL, &s, &err), 0);
    corpus c;
    int64_t model_id;
    build(s, &c, &model_id);
    size_t n = (size_t)N_DOCS * CHUNKS_PER_DOC;
    size_t visible_in[N_GROUPS] = {0};
    for (size_t i = 0; i < n; i++)
        visible_in[c.group[i]]++;
    int failures = 0;
    for (int trial = 0; trial < 60 && failures < 5; trial++) {
        /* a principal with 1-3 random roles, or the administrator */
        rag_principal who;
        int roles[N_GROUPS] = {0};
        if (trial % 10 == 9) {
            rag_principal_admin(&who);
            for (int g = 0; g < N_GROUPS; g++)
                roles[g] = 1;
        } else {
            rag_buf csv = {0};
            int nr = 1 + (int)(rnd() % 3);
            for (int r = 0; r < nr; r++) {
                int g = (int)(rnd() % N_GROUPS);
                roles[g] = 1;
                rag_buf_printf(&csv, "%sg%d", r ? "," : "", g);
            }
            CHECK_INT(rag_principal_from_roles(csv.data, &who, &err), 0);
            rag_buf_free(&csv);
        }
        size_t visible = 0;
        for (int g = 0; g < N_GROUPS; g++)
            visible += roles[g] ? visible_in[g] : 0;
        unsigned w1 = rnd() % VOCAB, w2 = rnd() % VOCAB;
        char q[64];
        snprintf(q, sizeof q, "w%u w%u", w1, w2);
        size_t matching = 0; /* visible chunks with either word */
        for (size_t i = 0; i < n; i++) {
            if (!roles[c.group[i]]) continue;
            int hit = 0;
            for (int w = 0; w < WORDS; w++)
                hit |= c.words[i][w] == w1 || c.words[i][w] == w2;
            matching += hit;
        }
        float qv[DIMS];
        for (int i = 0; i < DIMS; i++)
            qv[i] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
        size_t ks[] = {1, 10, 100};
        for (size_t ki = 0; ki < 3; ki++) {
            size_t k = ks[ki];
            /* keyword */
            store_search_params sp;
            store_search_default_params(&sp);
            sp.k = k;
            sp.want_snippet = 0;
            store_hits h;
            CHECK_INT(store_search_keyword(s, q, &who, &sp, &h, &err), 0);
            size_t want = matching < k ? matching : k;
            if (h.n != want)
                failures++, printf("    keyword: %zu hits, expected %zu (k %zu)\n", h.n, want, k);
            for (size_t i = 0; i < h.n; i++)
                if (!roles[c.group[idx(h.v[i].chunk_id)]])
                    failures++, printf("    keyword: an invisible chunk came back\n");
            store_hits_free(&h);
            /* fusion of keyword and vector */
            rag_retrieve_params rp;
            rag_retrieve_default_params(&rp);
            rp.k = k;
            rp.dedupe = 0;
            rp.want_snippet = 0;
            rp.query_vector = qv;
            rp.query_dims = DIMS;
            rag_results r;
            CHECK_INT(rag_retrieve(s, NULL, NULL, q, &who, &rp, &r, &err), 0);
            want = visible < k ? visible : k;
            if (r.n != want)
                failures++, printf("    fusion: %zu results, expected %zu (k %zu)\n", r.n, want, k);
            for (size_t i = 0; i < r.n; i++)
                if (!roles[c.group[idx(r.v[i].hit.chunk_id)]])
                    failures++, printf("    fusion: an invisible chunk came back\n");
            rag_results_free(&r);
        }
        rag_principal_free(&who);
    }
    CHECK_INT(failures, 0);
    rag_free(c.group);
    rag_free(c.words);
    store_close(s);
}

int main(void)
{
    RUN(test_exact_scoped_retrieval);
    return test_summary();
}
