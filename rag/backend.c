/* rag/backend.c: opening the models of a question from the settings (see
 * rag/backend.h).
 *
 * This is the one place that turns settings into models: `rag ask`,
 * `rag search`, `rag eval` and ragd all come here, so a question gets the
 * same models, context size and chat template through either program. */
#include "rag/backend.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "ingest/ingest.h"
#include "net/net.h"

#include <string.h>
#include <time.h>

void rag_backend_get(const rag_settings *s, const char *role, rag_backend *out)
{
    memset(out, 0, sizeof *out);
    if (!strcmp(role, "model")) {
        out->path = s->model.path;
        out->url = s->model.url;
        out->model = s->model.remote_model;
        out->api_key = s->model.api_key;
        out->ctx = (int)s->model.remote_ctx;
        out->timeout = s->model.timeout;
        out->retries = (int)s->model.retries;
    } else {
        out->path = s->embed.model;
        out->url = s->embed.url;
        out->model = s->embed.remote_model;
        out->api_key = s->embed.api_key;
        out->ctx = (int)s->embed.remote_ctx;
        out->timeout = s->embed.timeout;
        out->retries = (int)s->embed.retries;
    }
}

void rag_embed_params(const rag_settings *s, emb_params *out)
{
    emb_default_params(out);
    out->query_prefix = s->embed.query_prefix;
    out->doc_prefix = s->embed.doc_prefix;
    out->n_threads = (int)s->model.threads; /* 0: every CPU */
}

/* A remote model is known by its name alone (emb_model_open_remote): the
 * dimension is what can still tell two models under one name apart. */
static int check_dims(store *s, const emb_model *m, const char *url, rag_err *err)
{
    store_model active;
    int has = store_model_active(s, &active, err);
    const emb_identity *id = emb_model_identity(m);
    if (has <= 0 || strcmp(active.file_sha256, id->file_sha256) || active.dims == id->dims)
        return has < 0 ? has : 0;
    char *shown = net_url_list_public(url);
    rag_err_set(err, RAG_ERR_INVALID,
                "embedding server %.100s: its '%.40s' gives %d dimensions, the database's vectors "
                "of '%.40s' have %d: another model under that name",
                shown, id->name, id->dims, active.name, active.dims);
    rag_free(shown);
    return RAG_ERR_INVALID;
}

int rag_backend_open_embedder(const rag_backend *b, const emb_params *p, store *s, emb_model **out,
                              rag_err *err)
{
    if (!b->url) return emb_model_open(b->path, p, out, err);
    emb_remote_params rp;
    emb_remote_default_params(&rp);
    rp.url = b->url;
    rp.model = b->model;
    rp.api_key = b->api_key;
    rp.max_tokens = b->ctx;
    rp.timeout = b->timeout;
    rp.retries = b->retries;
    int rc = emb_model_open_remote(&rp, out, err);
    if (!rc && s && (rc = check_dims(s, *out, b->url, err))) {
        emb_model_close(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- the generator ------------------------------------------------------------ */

int rag_gen_model_open(const rag_settings *s, rag_gen_model *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    rag_backend_get(s, "model", &out->remote);
    if (out->remote.url) { /* the server is only reached when an answer is asked for */
        int rc = net_pool_new(out->remote.url, &out->remote.pool, err);
        if (rc) {
            memset(out, 0, sizeof *out);
            return rc;
        }
        out->ops = &rag_gen_remote;
        out->n_ctx = out->remote.ctx;
        out->name = rag_xstrdup(out->remote.model);
        return 0;
    }
    const char *path = out->remote.path;
    memset(&out->remote, 0, sizeof out->remote);
    if (!path) return 0;
    double t0 = rag_now_ms();
    int rc = llm_model_open(path, &out->model, err);
    if (rc) return rc;
    out->load_ms = rag_now_ms() - t0;
    const llm_hparams *hp = llm_model_hparams(out->model);
    out->n_ctx = s->model.ctx > 0         ? (int)s->model.ctx
                 : hp->n_ctx_train < 4096 ? hp->n_ctx_train
                                          : 4096;
    int fell_back = 0;
    if ((rc = llm_chat_family_for(llm_model_gguf(out->model), s->model.chat_template, &out->fam,
                                  &fell_back, err))) {
        rag_gen_model_close(out);
        return rc;
    }
    if (fell_back)
        rag_log_warn("%s: the model names no chat template this program recognises; using ChatML "
                     "(set model.chat_template)",
                     path);
    const char *name;
    size_t nl;
    if (llm_gguf_get_str(llm_model_gguf(out->model), "general.name", &name, &nl, NULL) == 0 && nl)
        out->name = rag_xstrndup(name, nl);
    else {
        const char *base = strrchr(path, '/');
        out->name = rag_xstrdup(base ? base + 1 : path);
    }
    out->ops = &rag_gen_local;
    return 0;
}

void rag_gen_model_close(rag_gen_model *m)
{
    net_pool_free(m->remote.pool);
    llm_model_close(m->model);
    rag_free(m->name);
    memset(m, 0, sizeof *m);
}

void rag_gen_model_generator(const rag_gen_model *m, llm_context *ctx, rag_generator *out)
{
    out->ops = m->ops;
    out->ctx = m->model ? ctx : NULL;
    out->remote = m->model ? NULL : &m->remote;
}

/* ---- the retrieval models ----------------------------------------------------- */

int rag_retrieval_open(const rag_settings *s, store *st, const char *mode, unsigned flags,
                       rag_retrieval_models *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    int want_vector = !(flags & RAG_RETRIEVAL_NO_VECTOR) && (!mode || strcmp(mode, "keyword"));
    out->keyword = !mode || strcmp(mode, "vector");
    rag_backend eb;
    rag_backend_get(s, "embed", &eb);
    emb_params ep;
    rag_embed_params(s, &ep);
    int rc;
    if (want_vector && (eb.path || eb.url)) {
        if ((rc = rag_backend_open_embedder(&eb, &ep, st, &out->embedder, err))) return rc;
        if (emb_is_reranker(out->embedder)) { /* a file: a server has no classification head */
            rag_retrieval_close(out);
            return rag_err_set(err, RAG_ERR_INVALID, "%s: a reranker, not an embedding model",
                               eb.path ? eb.path : "the embedding server");
        }
        if (flags & RAG_RETRIEVAL_REQUIRE) {
            if ((rc = ing_model_require(st, out->embedder, err))) {
                rag_retrieval_close(out);
                return rc;
            }
        } else {
            int match = ing_model_matches(st, out->embedder, err);
            if (match < 0) {
                rag_retrieval_close(out);
                return RAG_ERR_IO;
            }
            if (!match) {
                out->note = rag_xasprintf(
                    "the database has no vectors of %s: keyword search only (run 'rag reembed')",
                    emb_model_identity(out->embedder)->name);
                emb_model_close(out->embedder);
                out->embedder = NULL;
            }
        }
    } else if (want_vector) {
        out->note = rag_xstrdup("no embedding model is configured: keyword search only");
    }
    if (!out->embedder) out->keyword = 1;
    if (flags & (RAG_RETRIEVAL_RERANK | RAG_RETRIEVAL_RERANK_IF_SET)) {
        const char *rpath = s->rerank.model;
        if (!rpath && (flags & RAG_RETRIEVAL_RERANK)) {
            rag_retrieval_close(out);
            return rag_err_set(err, RAG_ERR_INVALID,
                               "reranking needs a reranker: --rerank-model FILE, "
                               "RAG_RERANK_MODEL or rerank.model");
        }
        if (rpath) {
            if ((rc = emb_model_open(rpath, &ep, &out->reranker, err))) {
                rag_retrieval_close(out);
                return rc;
            }
            if (!emb_is_reranker(out->reranker)) {
                rag_retrieval_close(out);
                return rag_err_set(err, RAG_ERR_INVALID,
                                   "%s: not a reranker (no classification head)", rpath);
            }
        }
    }
    return 0;
}

const char *rag_retrieval_mode(const rag_retrieval_models *r)
{
    return r->embedder && r->keyword ? "hybrid" : r->embedder ? "vector" : "keyword";
}

void rag_retrieval_close(rag_retrieval_models *r)
{
    emb_model_close(r->embedder);
    emb_model_close(r->reranker);
    rag_free(r->note);
    memset(r, 0, sizeof *r);
}
