/* embed/model.c: opening embedding and reranking models.
 *
 * Encoders are read here from GGUF (tensor names as llama.cpp's converter
 * writes them); decoders used as embedders go through llm/'s model and a
 * context in embeddings mode. The identity recorded with stored vectors is
 * the file's SHA-256, the dimension, the pooling and the prefixes. */
#include "embed/emb_int.h"
#include "base/file.h"
#include "base/hash.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>

const char *emb_pooling_name(emb_pooling p)
{
    static const char *names[] = {"none", "mean", "cls", "last", "rank", "remote"};
    return (unsigned)p < sizeof names / sizeof *names ? names[p] : "unknown";
}

void emb_default_params(emb_params *p)
{
    memset(p, 0, sizeof *p);
    p->pooling = -1;
}

/* Prefixes recommended by each model family, recognised from its name. */
static void family_prefixes(const char *name, const char **q, const char **d)
{
    char low[128];
    size_t i = 0;
    for (; name[i] && i < sizeof low - 1; i++)
        low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    low[i] = 0;
    *q = *d = "";
    if (strstr(low, "e5-") || strstr(low, "-e5") || !strncmp(low, "e5", 2)) {
        *q = "query: ";
        *d = "passage: ";
    } else if (strstr(low, "nomic-embed")) {
        *q = "search_query: ";
        *d = "search_document: ";
    } else if (strstr(low, "bge-") && strstr(low, "-en")) {
        *q = "Represent this sentence for searching relevant passages: ";
    } else if (strstr(low, "qwen3-embedding")) {
        *q = "Instruct: Given a web search query, retrieve relevant passages that answer the "
             "query\nQuery: ";
    }
}

static int get_u32(emb_model *m, const char *arch, const char *suffix, int required, int *out,
                   rag_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v;
    int rc = llm_gguf_get_u32(m->gguf, key, &v, err);
    if (rc == RAG_ERR_NOTFOUND && !required) return 0;
    if (rc) return rc;
    if (v > (1u << 24))
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: %s = %u is out of range",
                           llm_gguf_path(m->gguf), key, v);
    *out = (int)v;
    return 0;
}

static int get_mat(emb_model *m, const char *name, int64_t cols, int64_t rows, int optional,
                   llm_mat *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    const llm_tensor_info *t = llm_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (optional) return 0;
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: tensor '%s' is missing",
                           llm_gguf_path(m->gguf), name);
    }
    if (t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != 1 || t->ne[3] != 1)
        return rag_err_set(err, RAG_ERR_FORMAT,
                           "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]",
                           llm_gguf_path(m->gguf), name, (long long)t->ne[0], (long long)t->ne[1],
                           (long long)cols, (long long)rows);
    if (!llm_dtype_get(t->type)->can_compute)
        return rag_err_set(err, RAG_ERR_UNSUPPORTED,
                           "%s: tensor '%s' has type %s, which is not supported",
                           llm_gguf_path(m->gguf), name, llm_dtype_get(t->type)->name);
    *out = (llm_mat){t->type, rows, cols, t->data, llm_row_bytes(t->type, cols), NULL};
    return 0;
}

static int get_vec(emb_model *m, const char *name, int64_t n, int optional, float **out,
                   rag_err *err)
{
    llm_mat v;
    *out = NULL;
    int rc = get_mat(m, name, n, 1, optional, &v, err);
    if (rc || !v.data) return rc;
    *out = rag_xmalloc((size_t)n * sizeof(float));
    llm_dequant_row(v.type, v.data, *out, n);
    return 0;
}

static int load_encoder(emb_model *m, const char *arch, rag_err *err)
{
    int rc;
    if ((rc = get_u32(m, arch, "embedding_length", 1, &m->n_embd, err)) ||
        (rc = get_u32(m, arch, "block_count", 1, &m->n_layer, err)) ||
        (rc = get_u32(m, arch, "feed_forward_length", 1, &m->n_ff, err)) ||
        (rc = get_u32(m, arch, "attention.head_count", 1, &m->n_head, err)) ||
        (rc = get_u32(m, arch, "context_length", 1, &m->n_ctx, err)))
        return rc;
    if (m->n_head <= 0 || m->n_embd % m->n_head || m->n_layer <= 0 || m->n_ff <= 0 || m->n_ctx <= 0)
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: inconsistent sizes (embd %d, heads %d)",
                           llm_gguf_path(m->gguf), m->n_embd, m->n_head);
    char key[128];
    m->eps = 1e-12f;
    snprintf(key, sizeof key, "%s.attention.layer_norm_epsilon", arch);
    rc = llm_gguf_get_f32(m->gguf, key, &m->eps, err);
    if (rc && rc != RAG_ERR_NOTFOUND) return rc;
    m->rope_base = 10000.0f;
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    rc = llm_gguf_get_f32(m->gguf, key, &m->rope_base, err);
    if (rc && rc != RAG_ERR_NOTFOUND) return rc;
    int64_t E = m->n_embd, F = m->n_ff, V = llm_vocab_size(m->vocab);
    if ((rc = get_mat(m, "token_embd.weight", E, V, 0, &m->tok_embd, err)) ||
        (rc = get_mat(m, "position_embd.weight", E, m->n_ctx, m->arch == EMB_NOMIC, &m->pos_embd,
                      err)) ||
        (rc = get_vec(m, "token_embd_norm.weight", E, 0, &m->embd_norm_w, err)) ||
        (rc = get_vec(m, "token_embd_norm.bias", E, 1, &m->embd_norm_b, err)))
        return rc;
    const llm_tensor_info *tt = llm_gguf_find_tensor(m->gguf, "token_types.weight");
    if (tt && tt->ne[0] == E) { /* every input uses token type 0: its row */
        m->type0 = rag_xmalloc((size_t)E * sizeof(float));
        llm_dequant_row(tt->type, tt->data, m->type0, E);
    }
    m->layers = rag_xcalloc((size_t)m->n_layer, sizeof *m->layers);
    for (int l = 0; l < m->n_layer; l++) {
        emb_layer *L = &m->layers[l];
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d." s, l), n)
        if (m->arch == EMB_NOMIC) {
            if ((rc = get_mat(m, NAME("attn_qkv.weight"), E, 3 * E, 0, &L->wqkv, err)) ||
                (rc = get_vec(m, NAME("attn_qkv.bias"), 3 * E, 1, &L->bqkv, err)) ||
                (rc = get_mat(m, NAME("ffn_gate.weight"), E, F, 0, &L->w_gate, err)))
                return rc;
        } else {
            if ((rc = get_mat(m, NAME("attn_q.weight"), E, E, 0, &L->wq, err)) ||
                (rc = get_mat(m, NAME("attn_k.weight"), E, E, 0, &L->wk, err)) ||
                (rc = get_mat(m, NAME("attn_v.weight"), E, E, 0, &L->wv, err)) ||
                (rc = get_vec(m, NAME("attn_q.bias"), E, 1, &L->bq, err)) ||
                (rc = get_vec(m, NAME("attn_k.bias"), E, 1, &L->bk, err)) ||
                (rc = get_vec(m, NAME("attn_v.bias"), E, 1, &L->bv, err)))
                return rc;
        }
        if ((rc = get_mat(m, NAME("attn_output.weight"), E, E, 0, &L->wo, err)) ||
            (rc = get_vec(m, NAME("attn_output.bias"), E, 1, &L->bo, err)) ||
            (rc = get_vec(m, NAME("attn_output_norm.weight"), E, 0, &L->attn_norm_w, err)) ||
            (rc = get_vec(m, NAME("attn_output_norm.bias"), E, 1, &L->attn_norm_b, err)) ||
            (rc = get_mat(m, NAME("ffn_up.weight"), E, F, 0, &L->w_up, err)) ||
            (rc = get_vec(m, NAME("ffn_up.bias"), F, 1, &L->b_up, err)) ||
            (rc = get_mat(m, NAME("ffn_down.weight"), F, E, 0, &L->w_down, err)) ||
            (rc = get_vec(m, NAME("ffn_down.bias"), E, 1, &L->b_down, err)) ||
            (rc = get_vec(m, NAME("layer_output_norm.weight"), E, 0, &L->out_norm_w, err)) ||
            (rc = get_vec(m, NAME("layer_output_norm.bias"), E, 1, &L->out_norm_b, err)))
            return rc;
#undef NAME
    }
    /* the reranker head, when present */
    if ((rc = get_mat(m, "cls.weight", E, E, 1, &m->cls_w, err)) ||
        (rc = get_vec(m, "cls.bias", E, 1, &m->cls_b, err)) ||
        (rc = get_vec(m, "cls.output.weight", E, 1, &m->cls_out_w, err)))
        return rc;
    float *ob = NULL;
    if ((rc = get_vec(m, "cls.output.bias", 1, 1, &ob, err))) return rc;
    m->cls_out_b = ob ? ob[0] : 0;
    rag_free(ob);
    return 0;
}

/* An encoder's default batch: its context, at least EMB_BATCH_MIN tokens
 * and at most EMB_BATCH_MAX (the longest sequence, the smaller of the
 * context and the batch, is then the context up to 4,096, as it was with
 * batches of 4,096 for every encoder). A batch's activations are passed
 * over between the products (biases, norms, GELU): with 1,024 tokens a
 * bge-small batch's feed-forward rows are 6 MB instead of 25 and stay in
 * the cache. 256 texts of 128 tokens, bge-small shape, 2 threads,
 * alternated runs: F16 4,600-4,800 -> 5,300-6,100 tokens/s, Q8_0
 * 8,200-8,300 -> 8,400-8,600 (512: Q8_0 8,600-9,000 but F16 4,400, its
 * weights widened again for every batch). */
#define EMB_BATCH_MIN 1024
#define EMB_BATCH_MAX 4096

static int alloc_scratch(emb_model *m, int n_threads, rag_err *err)
{
    int rc =
        llm_compute_new(n_threads, m->n_ff > m->n_embd ? m->n_ff : m->n_embd, &m->compute, err);
    if (rc) return rc;
    if (m->batch_tokens <= 0)
        m->batch_tokens = m->n_ctx < EMB_BATCH_MIN   ? EMB_BATCH_MIN
                          : m->n_ctx > EMB_BATCH_MAX ? EMB_BATCH_MAX
                                                     : m->n_ctx;
    size_t T = (size_t)m->batch_tokens, E = (size_t)m->n_embd, F = (size_t)m->n_ff;
    m->max_seq = m->n_ctx < m->batch_tokens ? m->n_ctx : m->batch_tokens;
    m->x = rag_xmalloc(T * E * sizeof(float));
    m->qkv = rag_xmalloc(T * 3 * E * sizeof(float));
    m->att = rag_xmalloc(T * E * sizeof(float));
    m->tmp = rag_xmalloc(T * E * sizeof(float));
    m->ffn = rag_xmalloc(T * F * sizeof(float));
    if (m->layers && m->layers[0].w_gate.data) m->ffn2 = rag_xmalloc(T * F * sizeof(float));
    /* a text's vector must not depend on the texts embedded with it */
    llm_compute_set_batch_invariant(m->compute, 1);
    m->scores = rag_xmalloc((size_t)llm_compute_threads(m->compute) * (size_t)m->max_seq *
                            (size_t)m->max_seq * sizeof(float));
    /* attention's products pack k x LLM_GEMM_PANEL floats, k the head's
     * size or a sequence's length: one panel per thread, not one allocated
     * and zeroed per call */
    int64_t k = m->max_seq > m->n_embd / m->n_head ? m->max_seq : m->n_embd / m->n_head;
    m->panel_floats = (size_t)k * LLM_GEMM_PANEL;
    m->panels =
        rag_xcalloc_lines((size_t)llm_compute_threads(m->compute) * m->panel_floats, sizeof(float));
    return 0;
}

static int open_decoder(emb_model *m, const char *path, const emb_params *p, rag_err *err)
{
    int rc = llm_model_open(path, &m->dec, err);
    if (rc) return rc;
    const llm_hparams *hp = llm_model_hparams(m->dec);
    m->n_embd = hp->n_embd;
    m->n_ctx = hp->n_ctx_train < 8192 ? hp->n_ctx_train : 8192;
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.n_ctx = m->n_ctx;
    cp.n_threads = p->n_threads;
    cp.embeddings = 1;
    return llm_context_new(m->dec, &cp, &m->dctx, err);
}

int emb_model_open(const char *path, const emb_params *params, emb_model **out, rag_err *err)
{
    *out = NULL;
    emb_params defaults;
    if (!params) {
        emb_default_params(&defaults);
        params = &defaults;
    }
    emb_model *m = rag_xcalloc(1, sizeof *m);
    m->ops = &emb_local_ops;
    m->batch_tokens = params->batch_tokens; /* 0: alloc_scratch's default, or 4096 */
    int rc = llm_gguf_open(path, &m->gguf, err);
    char arch[64] = "";
    const char *s;
    size_t len;
    if (!rc &&
        (rc = llm_gguf_get_str(m->gguf, "general.architecture", &s, &len, err)) == RAG_ERR_NOTFOUND)
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: no general.architecture: not a model", path);
    if (!rc) snprintf(arch, sizeof arch, "%.*s", (int)(len < 63 ? len : 63), s);
    /* pooling: the file's, or the caller's */
    int pooling = -1;
    if (!rc) {
        char key[128];
        uint32_t v;
        snprintf(key, sizeof key, "%s.pooling_type", arch);
        if (llm_gguf_get_u32(m->gguf, key, &v, NULL) == 0 && v <= EMB_POOL_RANK) pooling = (int)v;
        if (params->pooling >= 0) pooling = params->pooling;
    }
    if (!rc && llm_gguf_n_tensors(m->gguf) == 0)
        rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: the file holds a vocabulary but no weights",
                         path);
    if (!rc) {
        if (!strcmp(arch, "bert") || !strcmp(arch, "nomic-bert")) {
            m->arch = !strcmp(arch, "bert") ? EMB_BERT : EMB_NOMIC;
            if (pooling < 0 || pooling == EMB_POOL_NONE) pooling = EMB_POOL_CLS;
            rc = llm_vocab_load(m->gguf, &m->vocab, err);
            if (!rc) rc = load_encoder(m, arch, err);
            if (!rc && pooling == EMB_POOL_RANK && !m->cls_out_w)
                rc = rag_err_set(err, RAG_ERR_FORMAT,
                                 "%s: rank pooling needs the cls.* head tensors", path);
            if (!rc) rc = alloc_scratch(m, params->n_threads, err);
        } else if (llm_arch_supported(arch)) {
            m->arch = EMB_DECODER;
            if (pooling != EMB_POOL_LAST)
                rc = rag_err_set(err, RAG_ERR_INVALID,
                                 "%s: '%s' is a decoder (a text generator); it can embed only with "
                                 "last-token pooling, and the file does not ask for it (set the "
                                 "pooling to 'last' to use it anyway)",
                                 path, arch);
            if (m->batch_tokens <= 0) m->batch_tokens = EMB_BATCH_MAX;
            if (!rc) rc = open_decoder(m, path, params, err);
            if (!rc) m->vocab = NULL; /* the decoder's own */
        } else {
            rc = rag_err_set(err, RAG_ERR_UNSUPPORTED,
                             "%s: architecture '%s' is not an embedding model rag can run (bert, "
                             "nomic-bert, or llama/qwen2/qwen3 with last-token pooling)",
                             path, arch);
        }
    }
    if (rc) {
        emb_model_close(m);
        return rc;
    }
    /* identity */
    emb_identity *id = &m->id;
    const char *nm;
    size_t nl;
    if (llm_gguf_get_str(m->gguf, "general.name", &nm, &nl, NULL) == 0 && nl)
        snprintf(id->name, sizeof id->name, "%.*s", (int)(nl < 127 ? nl : 127), nm);
    else {
        const char *b = strrchr(path, '/');
        snprintf(id->name, sizeof id->name, "%s", b ? b + 1 : path);
    }
    rag_map map;
    if (rag_file_map(path, 0, &map, err) == 0) {
        rag_sha256_hex(map.data, map.size, id->file_sha256);
        rag_file_unmap(&map);
    }
    id->dims = m->n_embd;
    id->pooling = (emb_pooling)pooling;
    id->normalized = 1;
    const char *q, *d;
    family_prefixes(id->name, &q, &d);
    snprintf(id->query_prefix, sizeof id->query_prefix, "%s",
             params->query_prefix ? params->query_prefix : q);
    snprintf(id->doc_prefix, sizeof id->doc_prefix, "%s",
             params->doc_prefix ? params->doc_prefix : d);
    *out = m;
    return 0;
}

void emb_model_close(emb_model *m)
{
    if (!m) return;
    emb_remote_free(m->remote);
    for (int l = 0; m->layers && l < m->n_layer; l++) {
        emb_layer *L = &m->layers[l];
        float *v[] = {L->bq,     L->bk,          L->bv,          L->bqkv,
                      L->bo,     L->attn_norm_w, L->attn_norm_b, L->b_up,
                      L->b_down, L->out_norm_w,  L->out_norm_b};
        for (size_t i = 0; i < sizeof v / sizeof *v; i++)
            rag_free(v[i]);
    }
    rag_free(m->layers);
    rag_free_lines(m->panels);
    float *v[] = {m->type0, m->embd_norm_w, m->embd_norm_b, m->cls_b, m->cls_out_w, m->x,
                  m->qkv,   m->att,         m->tmp,         m->ffn,   m->ffn2,      m->scores};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        rag_free(v[i]);
    llm_compute_free(m->compute);
    llm_context_free(m->dctx);
    llm_model_close(m->dec);
    llm_vocab_free(m->vocab);
    llm_gguf_close(m->gguf);
    rag_free(m);
}

const emb_identity *emb_model_identity(const emb_model *m)
{
    return &m->id;
}
int emb_dims(const emb_model *m)
{
    return m->n_embd;
}
int emb_max_tokens(const emb_model *m)
{
    return m->n_ctx;
}
int emb_is_reranker(const emb_model *m)
{
    return m->id.pooling == EMB_POOL_RANK;
}

const llm_vocab *emb_vocab(const emb_model *m)
{
    return m->dec ? llm_model_vocab(m->dec) : m->vocab;
}

void emb_model_stats(const emb_model *m, uint64_t *tokens, double *seconds)
{
    *tokens = m->n_tokens_done;
    *seconds = m->seconds;
}
