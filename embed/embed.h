/* embed/embed.h: the door of the embedding module.
 *
 * Turns text into vectors with a local GGUF encoder, and scores query /
 * passage pairs with a cross-encoder (reranker). Encoders: `bert` (BGE,
 * MiniLM, E5, GTE: absolute positions, token types, post-LayerNorm, GELU)
 * and `nomic-bert` (fused QKV, RoPE, SwiGLU); decoder models (`llama`,
 * `qwen2`, `qwen3`) embed with last-token pooling, as Qwen3-Embedding does.
 * Many texts go through one forward pass (sequences packed, attention kept
 * within each); the vectors equal those computed one text at a time.
 *
 * An OpenAI-compatible server (Ollama, vLLM, llama.cpp's server, another
 * ragd) can stand behind the same handle (emb_model_open_remote): every
 * caller embeds through it unchanged. */
#ifndef RAG_EMBED_EMBED_H
#define RAG_EMBED_EMBED_H

#include "base/err.h"
#include "llm/llm.h"
#include "net/net.h"

#include <stddef.h>
#include <stdint.h>

/* Pooling, with the values of the GGUF `<arch>.pooling_type` key. */
typedef enum emb_pooling {
    EMB_POOL_NONE = 0,
    EMB_POOL_MEAN = 1,
    EMB_POOL_CLS = 2,
    EMB_POOL_LAST = 3,
    EMB_POOL_RANK = 4,   /* reranker: the classification head on the CLS state */
    EMB_POOL_REMOTE = 5, /* not a GGUF value: a remote server pools as it does */
} emb_pooling;

const char *emb_pooling_name(emb_pooling p);

typedef enum emb_input {
    EMB_QUERY,    /* a search query: the family's query prefix is added */
    EMB_DOCUMENT, /* a passage to index: the document prefix is added */
    EMB_RAW,      /* exactly the text */
} emb_input;

typedef struct emb_params {
    int pooling;              /* -1: as the GGUF file says */
    const char *query_prefix; /* NULL: the model family's default */
    const char *doc_prefix;   /* NULL: the model family's default */
    int n_threads;            /* 0: all CPUs */
    int batch_tokens;         /* tokens per forward pass (0: an encoder's context, within
                                 1,024..4,096; 4,096 for a decoder) */
} emb_params;

void emb_default_params(emb_params *p);

typedef struct emb_model emb_model;

/* What identifies the vectors a model produces: vectors of two different
 * identities never meet in one index. */
typedef struct emb_identity {
    char name[128]; /* general.name, else the file name */
    char file_sha256[65];
    int dims;
    emb_pooling pooling;
    int normalized; /* vectors are L2-normalised when stored */
    char query_prefix[256];
    char doc_prefix[256];
} emb_identity;

/* Opens an embedding model. A decoder without last-token pooling, a model
 * without weights (vocabulary only) or an unknown architecture is refused
 * with an explanation. */
int emb_model_open(const char *path, const emb_params *p, emb_model **out, rag_err *err);
void emb_model_close(emb_model *m);

/* A remote embedding server: POST {url}/embeddings with OpenAI's schema. */
typedef struct emb_remote_params {
    const char *url;     /* base URL ending in /v1 (http or https), or several, comma-separated
                            (a pool: net/pool.c); required */
    const char *model;   /* the "model" field sent; required */
    const char *api_key; /* sent as a bearer token; NULL: none */
    int max_tokens;      /* the most tokens per input, for sizing chunks (default 512) */
    double timeout;      /* seconds per request (default 60) */
    int retries;         /* extra attempts after 429, 5xx or a failed connection (default 3;
                            with several servers, each other server once instead) */
    int batch;           /* inputs per request (default 64) */
} emb_remote_params;

void emb_remote_default_params(emb_remote_params *p);

/* Opens a remote embedder, sending one short input to learn the dimension
 * (so a server that is down or misconfigured fails here, naming itself).
 * Its identity: name = model; file_sha256 = SHA-256 of "openai-compatible:"
 * + model; pooling "remote"; no prefixes (the server adds its own). The same
 * model name on two servers therefore counts as the same vectors. Tokens are
 * estimated (bytes / 4, rounded up): it has no vocabulary (emb_vocab is
 * NULL), and it cannot rerank. */
int emb_model_open_remote(const emb_remote_params *rp, emb_model **out, rag_err *err);
/* A remote model's servers and their state (for metrics); NULL for a local one. */
const net_pool *emb_model_pool(const emb_model *m);

const emb_identity *emb_model_identity(const emb_model *m);
int emb_dims(const emb_model *m);
/* Longest input in tokens (the model's context). */
int emb_max_tokens(const emb_model *m);
/* The tokenizer; NULL for a remote model. */
const llm_vocab *emb_vocab(const emb_model *m);
int emb_is_reranker(const emb_model *m);

/* Tokens text[0..n) becomes as a document (with its prefix and special
 * tokens), for sizing chunks; an estimate for a remote model. */
size_t emb_count_tokens(const emb_model *m, const char *text, size_t n);

/* Embeds n texts into out[n x dims]; normalize: L2 (the stored form). A text
 * longer than the model's context is truncated and, when truncated != NULL,
 * truncated[i] is set (a remote server truncates, or refuses, as it does:
 * truncated[i] stays 0). */
int emb_embed(emb_model *m, const char *const *texts, size_t n, emb_input kind, int normalize,
              float *out, uint8_t *truncated, rag_err *err);

/* Scores passages against query with a reranker: scores[n] (higher is more
 * relevant). Input is the pair as llm_tokenize_pair lays it out ([CLS] query
 * [SEP] [SEP] passage [SEP], <s> query </s></s> passage </s>), cut to fit.
 * A remote model is refused (RAG_ERR_UNSUPPORTED). */
int emb_rerank(emb_model *m, const char *query, const char *const *passages, size_t n,
               float *scores, rag_err *err);
/* The same for n pairs already tokenized (ids as given, none added; each
 * cut to fit, keeping its last token): to compare two models fed the same
 * ids. A local reranker only; an id outside the vocabulary is refused. */
int emb_rerank_ids(emb_model *m, const llm_tokens *pairs, size_t n, float *scores, rag_err *err);

/* Tokens embedded and time spent, since the model was opened. */
void emb_model_stats(const emb_model *m, uint64_t *tokens, double *seconds);

#endif
