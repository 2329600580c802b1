/* rag/generate.h: an answer from the generator for a built prompt, and
 * where the models are (the settings `rag` and ragd share).
 *
 * The generator is a local GGUF model (a context of it) or a remote
 * OpenAI-compatible server (Ollama, vLLM, llama.cpp's server, another
 * ragd): only the model call differs. Either way the text streams through
 * the citation check (rag_citestream) so that what a reader sees as it
 * comes is what the final answer says: a marker naming no context block
 * never reaches them. Shared by `rag ask` and ragd. */
#ifndef RAG_RAG_GENERATE_H
#define RAG_RAG_GENERATE_H

#include "base/config.h"
#include "base/err.h"
#include "embed/embed.h"
#include "llm/llm.h"
#include "rag/prompt.h"
#include "store/store.h"

/* ---- where the models are ---------------------------------------------------- */
/* The embedding model (role "embed") or the generator (role "model"): a
 * local file or a server. Read from the flag (a file, or an http(s) URL),
 * else the environment (RAG_EMBED_MODEL or RAG_EMBED_URL; RAG_MODEL or
 * RAG_MODEL_URL), else the config file (embed.model or embed.url;
 * model.path or model.url); a file and a URL at the same level are an
 * error. With a URL: remote_model ($RAG_EMBED_REMOTE_MODEL,
 * $RAG_MODEL_REMOTE_MODEL, else the config; required), api_key
 * ($RAG_EMBED_API_KEY, $RAG_MODEL_API_KEY, else the config), and from the
 * config remote_ctx, timeout, retries (always checked). */
typedef struct rag_backend {
    const char *path; /* a local model file, or NULL */
    const char *url;  /* else a server's base URL, or NULL: none configured */
    const char *model, *api_key;
    int ctx;        /* remote_ctx: embed 512 (tokens per input), model 8192 */
    double timeout; /* seconds: embed 60 (a request), model 300 (an answer) */
    int retries;    /* embed 3, model 2 */
} rag_backend;

/* Reads role's backend. The strings are borrowed from flag, the
 * environment and cfg. Errors name the variable, or the file and line, and
 * say what is wrong. */
int rag_backend_read(const rag_config *cfg, const char *role, const char *flag,
                      rag_backend *out, rag_err *err);
/* Whether a model location is a server URL (http:// or https://). */
int rag_is_url(const char *s);
/* Opens the embedding model of b: its file (with p), or its server (see
 * emb_model_open_remote: the server adds its own prefixes). With s (may be
 * NULL), a server whose model the database knows by name but with another
 * dimension is refused: it serves another model under that name. */
int rag_backend_open_embedder(const rag_backend *b, const emb_params *p, store *s,
                               emb_model **out, rag_err *err);

/* ---- generation ---------------------------------------------------------------- */
/* Receives checked text as it is produced; returning non-zero stops the
 * generation (LLM_STOP_CANCEL). While a remote server is silent it is also
 * called with len 0, about once a second, to ask whether to stop. */
typedef int (*rag_stream_fn)(void *ctx, const char *text, size_t len);

/* Where an answer is generated: a local context (emptied first) or a
 * remote server; exactly one is set. Both are borrowed. */
typedef struct rag_generator {
    llm_context *ctx;
    const rag_backend *remote; /* its url, model, api_key, timeout, retries */
    int reuse; /* a local context's cached prompt prefix may serve this answer
                  (llm_context_reuse); 0: only what it shares with public_prefix */
    const int32_t *public_prefix; /* the tokens every grounded prompt begins with (the
                                     template's opening and our instructions: nobody's
                                     secret), which any answer may take over from the
                                     context's cache; NULL: none */
    size_t n_public;
    llm_batcher *batcher; /* a local context decodes through it, sharing each
                             step with the other slots' answers (NULL: alone) */
} rag_generator;

typedef struct rag_generation {
    rag_citecheck check; /* the answer (check.text) and its citations */
    llm_gen_stats stats;  /* remote: tokens from the server's usage when it sends
                             them, else estimated; prompt_ms is the time to the
                             first text */
} rag_generation;

/* Generates an answer to prompt pr. With grounded, citations are checked
 * against pr's blocks; else the text is passed on as written. on_text may
 * be NULL. A remote server that fails, answers other than 2xx or breaks
 * its stream is an error naming it ("generator server URL: ..."). */
int rag_generate(const rag_generator *g, const rag_prompt *pr, int grounded,
                  const llm_gen_params *gp, rag_stream_fn on_text, void *ctx,
                  rag_generation *out, rag_err *err);
void rag_generation_free(rag_generation *g);

#endif
