/* rag/generate.h: an answer from the generator for a built prompt.
 *
 * The generator is a local GGUF model (a context of it) or a remote
 * OpenAI-compatible server (Ollama, vLLM, llama.cpp's server, another
 * ragd): only the model call differs. Either way the text streams through
 * the citation check (rag_citestream) so that what a reader sees as it
 * comes is what the final answer says: a marker naming no context block
 * never reaches them. Shared by `rag ask` and ragd.
 *
 * A reasoning model's thinking (<think>...</think> before its answer, or a
 * server's delta.reasoning_content) is split from the answer as it streams
 * (llm_think, llm/chat.h) and kept apart: only the answer goes through the
 * citation check, becomes the answer's text and names its citations; the
 * reasoning goes to its own callback and into rag_generation.reasoning. */
#ifndef RAG_RAG_GENERATE_H
#define RAG_RAG_GENERATE_H

#include "base/err.h"
#include "embed/embed.h"
#include "llm/llm.h"
#include "net/net.h"
#include "rag/prompt.h"
#include "store/store.h"

/* ---- generation ---------------------------------------------------------------- */
/* Receives checked text as it is produced; returning non-zero stops the
 * generation (LLM_STOP_CANCEL). While a remote server is silent it is also
 * called with len 0, about once a second, to ask whether to stop. */
typedef int (*rag_stream_fn)(void *ctx, const char *text, size_t len);

/* A model file or a server, for the generator or the embedding model, as
 * the settings name it (rag/backend.h: rag_backend_get). */
typedef struct rag_backend {
    const char *path; /* a local model file, or NULL */
    const char *url;  /* else the servers' base URLs, comma-separated (a pool), or NULL:
                         none configured */
    const char *model, *api_key;
    int ctx;        /* remote_ctx: embed 512 (tokens per input), model 8192 */
    double timeout; /* seconds: embed 60 (a request), model 300 (an answer) */
    int retries;    /* embed 3, model 2 (with several servers: each other one once instead) */
    net_pool *pool; /* the servers of url and their state (owned by the rag_gen_model that
                       opened it); NULL: made for each answer from url */
} rag_backend;

typedef struct rag_generator rag_generator;
struct rag_gen_run;

/* How an answer is produced: by a local context or by a server. A
 * generator's ops are chosen once, when its model is opened
 * (rag_gen_model_open); nothing after asks which kind it is. */
typedef struct rag_gen_ops {
    const char *name; /* "local" or "remote" */
    int (*generate)(const rag_generator *g, const rag_prompt *pr, const llm_gen_params *gp,
                    struct rag_gen_run *run, llm_gen_stats *st, rag_err *err);
} rag_gen_ops;

extern const rag_gen_ops rag_gen_local, rag_gen_remote;

/* Where an answer is generated: a local context (emptied first) or a
 * remote server, by ops. ctx and remote are borrowed. */
struct rag_generator {
    const rag_gen_ops *ops;
    llm_context *ctx;
    const rag_backend *remote;    /* its url, model, api_key, timeout, retries */
    int reuse;                    /* a local context's cached prompt prefix may serve this answer
                                     (llm_context_reuse); 0: only what it shares with public_prefix */
    const int32_t *public_prefix; /* the tokens every grounded prompt begins with (the
                                     template's opening and our instructions: nobody's
                                     secret), which any answer may take over from the
                                     context's cache; NULL: none */
    size_t n_public;
    llm_batcher *batcher; /* a local context decodes through it, sharing each
                             step with the other slots' answers (NULL: alone) */
};

typedef struct rag_generation {
    rag_citecheck check; /* the answer (check.text) and its citations */
    char *reasoning;     /* what the model thought before it answered (owned), or
                            NULL when it wrote none */
    int n_reasoning;     /* of stats.n_generated, the tokens of the reasoning (local: up
                            to the one that closed the block; remote: the server's
                            count, else estimated) */
    llm_gen_stats stats; /* remote: tokens from the server's usage when it sends
                            them, else estimated; prompt_ms is the time to the
                            first text */
} rag_generation;

/* Generates an answer to prompt pr. With grounded, citations are checked
 * against pr's blocks; else the text is passed on as written. on_text
 * receives the answer, on_reasoning the reasoning (both with ctx; either
 * may be NULL; a stop asked by either stops the generation). A remote
 * server that fails, answers other than 2xx or breaks its stream is an
 * error naming it ("generator server URL: ..."). */
int rag_generate(const rag_generator *g, const rag_prompt *pr, int grounded,
                 const llm_gen_params *gp, rag_stream_fn on_text, rag_stream_fn on_reasoning,
                 void *ctx, rag_generation *out, rag_err *err);
void rag_generation_free(rag_generation *g);

/* Whether a reasoning model thinks before an answer when the request does
 * not say, by model.reasoning: "on", "off", or "auto" (NULL too): on for
 * plain chat, off for an answer from the documents (grounded). */
int rag_reasoning_default(const char *setting, int grounded);

#endif
