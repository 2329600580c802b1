/* llm/chat.h (behind llm/llm.h): chat templates.
 *
 * A conversation is rendered in the prompt format the model was trained
 * on. GGUF files carry the template as Jinja text (tokenizer.chat_template);
 * rather than run Jinja, the family is recognised from that text and
 * rendered by code: ChatML (Qwen, SmolLM), Llama 3, Llama 2 / Mistral
 * ([INST]), Gemma and Phi-3. An unknown template falls back to ChatML and
 * says so.
 *
 * The rendering is a list of fragments: template text (which may name
 * control tokens such as <|im_start|>) and message content (which must be
 * tokenized as plain text, so a message cannot inject control tokens). */
#ifndef RAG_LLM_CHAT_H
#define RAG_LLM_CHAT_H

#include "base/buf.h"
#include "base/err.h"
#include "llm/tokenizer.h"

#include <stddef.h>

typedef enum llm_chat_family {
    LLM_CHAT_CHATML,
    LLM_CHAT_LLAMA3,
    LLM_CHAT_LLAMA2,
    LLM_CHAT_GEMMA,
    LLM_CHAT_PHI3,
    LLM_CHAT_N_FAMILIES,
} llm_chat_family;

typedef struct llm_chat_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} llm_chat_msg;

/* The family whose markers appear in template text, or -1. */
int llm_chat_detect(const char *tmpl, size_t len);
/* "chatml", "llama3", "llama2", "gemma", "phi3" (also accepts "mistral" as
 * llama2), or -1. */
int llm_chat_family_from_name(const char *name);
const char *llm_chat_family_name(llm_chat_family f);

/* The family for a vocabulary's model: `override` (a family name) when
 * given, else detected from tokenizer.chat_template of g, else ChatML with
 * *fell_back set. An unknown override is RAG_ERR_INVALID. */
int llm_chat_family_for(const llm_gguf *g, const char *override, llm_chat_family *out,
                        int *fell_back, rag_err *err);

typedef struct llm_chat_frag {
    size_t start, len; /* in the rendered text */
    int is_template;   /* 1: template text (control tokens allowed); 0: content */
} llm_chat_frag;

typedef struct llm_chat_prompt {
    rag_buf text;         /* the whole prompt, for display (--show-prompt) */
    llm_chat_frag *frags; /* the same text cut into fragments */
    size_t n_frags, cap_frags;
} llm_chat_prompt;

/* Renders the messages; with add_generation_prompt the text ends where the
 * assistant's reply begins. Roles other than system/user/assistant are
 * refused. A system message is folded into the first user turn by the
 * families without a system role (Gemma). */
int llm_chat_render(llm_chat_family f, const llm_chat_msg *msgs, size_t n,
                    int add_generation_prompt, llm_chat_prompt *out, rag_err *err);
void llm_chat_prompt_free(llm_chat_prompt *p);

/* Tokenizes a rendered prompt: BOS as the vocabulary adds it, template
 * fragments with control tokens recognised, content fragments as plain text. */
int llm_chat_tokenize(const llm_vocab *v, const llm_chat_prompt *p, llm_tokens *out, rag_err *err);

#endif
