/* rag/backend.h: the models a question needs, opened from the settings the
 * same way by both programs.
 *
 * Where each model is (a file or a server) is decided once, from the
 * settings (rag/settings.h), by rag_backend_get; what is opened then carries
 * its implementation with it (an emb_model's local or remote kind, a
 * generator's rag_gen_ops), so no caller asks again. `rag ask`, `rag search`
 * and ragd open the generator with rag_gen_model_open and the retrieval
 * models with rag_retrieval_open, and so retrieve and answer alike. */
#ifndef RAG_RAG_BACKEND_H
#define RAG_RAG_BACKEND_H

#include "base/err.h"
#include "embed/embed.h"
#include "llm/llm.h"
#include "rag/generate.h"
#include "rag/settings.h"
#include "store/store.h"

/* Role "model" (the generator) or "embed" (the embedding model) as the
 * settings name it: a file, a server (url, remote_model, api_key,
 * remote_ctx, timeout, retries), or neither. Strings are borrowed from s. */
void rag_backend_get(const rag_settings *s, const char *role, rag_backend *out);

/* The embedding model's prefixes from the settings. */
void rag_embed_params(const rag_settings *s, emb_params *out);

/* Opens the embedding model of b: its file (with p), or its server (see
 * emb_model_open_remote: the server adds its own prefixes). With st (may be
 * NULL), a server whose model the database knows by name but with another
 * dimension is refused: it serves another model under that name. */
int rag_backend_open_embedder(const rag_backend *b, const emb_params *p, store *st, emb_model **out,
                              rag_err *err);

/* ---- the generator ------------------------------------------------------------ */
typedef struct rag_gen_model {
    const rag_gen_ops *ops; /* local or remote, chosen here */
    llm_model *model;       /* a local model, or NULL */
    rag_backend remote;     /* a server: url set */
    llm_chat_family fam;    /* a local model's chat template */
    int n_ctx;              /* model.ctx, else min(training, 4096); a server's: remote_ctx */
    char *name;             /* general.name, else the file's name; a server's remote_model */
    double load_ms;
} rag_gen_model;

/* Opens the generator the settings name (s->model.path or .url); 0 with
 * out->ops NULL when none is configured. A template the model does not name
 * falls back to ChatML with one warning in the log. */
int rag_gen_model_open(const rag_settings *s, rag_gen_model *out, rag_err *err);
void rag_gen_model_close(rag_gen_model *m);
/* A generator for one answer on m: ctx is the local context (NULL for a
 * server). The other fields of out are left to the caller. */
void rag_gen_model_generator(const rag_gen_model *m, llm_context *ctx, rag_generator *out);

/* ---- the retrieval models ----------------------------------------------------- */
typedef struct rag_retrieval_models {
    emb_model *embedder, *reranker; /* NULL: that stage is off */
    int keyword;                    /* the keyword stage is on */
    char *note;                     /* why the vector stage is off, or NULL */
} rag_retrieval_models;

enum {
    RAG_RETRIEVAL_RERANK = 1,        /* open the reranker (rerank.model), required */
    RAG_RETRIEVAL_RERANK_IF_SET = 8, /* open it when one is configured */
    RAG_RETRIEVAL_REQUIRE = 2,       /* an embedding model whose vectors the database lacks is an
                                        error (ragd), not a note (rag: keyword search) */
    RAG_RETRIEVAL_NO_VECTOR = 4      /* keyword mode: no embedding model */
};

/* Opens the embedding model (when the mode wants vectors and one is
 * configured) and, with RAG_RETRIEVAL_RERANK, the reranker, on database
 * st. mode is search.mode or a request's. */
int rag_retrieval_open(const rag_settings *s, store *st, const char *mode, unsigned flags,
                       rag_retrieval_models *out, rag_err *err);
/* "keyword", "vector" or "hybrid": the stages that run. */
const char *rag_retrieval_mode(const rag_retrieval_models *r);
void rag_retrieval_close(rag_retrieval_models *r);

#endif
