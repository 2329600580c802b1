/* llm/chat.h (behind llm/llm.h): chat templates.
 *
 * A conversation is rendered in the prompt format the model was trained
 * on. GGUF files carry the template as Jinja text (tokenizer.chat_template);
 * rather than run Jinja, the family is recognised from that text and
 * rendered by code: ChatML (Qwen, SmolLM), Llama 3, Llama 2 / Mistral
 * ([INST]), Gemma and Phi-3. An unknown template falls back to ChatML and
 * says so.
 *
 * Reasoning models write their thinking between <think> and </think>
 * before the answer. Two ChatML families know it: "qwen3" (Qwen3: a
 * template with the enable_thinking switch; off, the assistant's turn opens
 * with an empty block "<think>\n\n</think>\n\n", as the template writes it
 * for enable_thinking=false, and the model answers at once) and
 * "chatml-think" (QwQ, Qwen3 *-Thinking-2507: the turn always opens with
 * "<think>\n", so the model's text starts inside the block). Both drop the
 * think block of earlier assistant turns, as their templates do. What a
 * model writes is split into reasoning and answer by llm_think below.
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
    LLM_CHAT_QWEN3,        /* ChatML with the enable_thinking switch */
    LLM_CHAT_CHATML_THINK, /* ChatML whose reply always opens a think block */
    LLM_CHAT_N_FAMILIES,
} llm_chat_family;

typedef struct llm_chat_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} llm_chat_msg;

/* The family whose markers appear in template text, or -1. */
int llm_chat_detect(const char *tmpl, size_t len);
/* "chatml", "llama3", "llama2", "gemma", "phi3", "qwen3", "chatml-think"
 * (also accepts "mistral" as llama2), or -1. */
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
    int think_open; /* the text ends inside a think block: the model's reply
                       starts with reasoning (chatml-think) */
} llm_chat_prompt;

/* How llm_chat_render ends the prompt (a mask). */
enum {
    LLM_CHAT_GEN_PROMPT = 1, /* end where the assistant's reply begins */
    LLM_CHAT_THINK_OFF = 2,  /* with it: as the template renders enable_thinking=false
                                (qwen3: the empty think block; other families: nothing) */
};

/* Renders the messages; with LLM_CHAT_GEN_PROMPT in flags the text ends
 * where the assistant's reply begins (1 alone: as the template renders it by
 * default, which for qwen3 is thinking on). Roles other than
 * system/user/assistant are refused. A system message is folded into the
 * first user turn by the families without a system role (Gemma). */
int llm_chat_render(llm_chat_family f, const llm_chat_msg *msgs, size_t n, unsigned flags,
                    llm_chat_prompt *out, rag_err *err);
/* Whether the family's template has a switch that turns thinking off
 * (qwen3). */
int llm_chat_can_think_off(llm_chat_family f);
void llm_chat_prompt_free(llm_chat_prompt *p);

/* Tokenizes a rendered prompt: BOS as the vocabulary adds it, template
 * fragments with control tokens recognised, content fragments as plain text. */
int llm_chat_tokenize(const llm_vocab *v, const llm_chat_prompt *p, llm_tokens *out, rag_err *err);

/* ---- reasoning and answer ------------------------------------------------------- */
/* Splits a model's text, fed in pieces as it is generated (a tag may be cut
 * anywhere), into reasoning and answer. A reply that opens with <think>
 * (its first bytes, as reasoning models write it) reasons until </think>;
 * one whose prompt opened the block (think_open) starts inside it. What
 * follows </think> is the answer, its leading blank space dropped; the
 * blank space at both ends of the reasoning is dropped too (as Qwen3's
 * template strips it). A reply without the opening tag is all answer, and
 * a <think> later in an answer is text: tags are only recognised where the
 * model opens its reply. A block still open at the end is all reasoning
 * (the model ran out of tokens while thinking): the answer is empty. Only
 * what may still become a tag, or blank space that may end the reasoning,
 * is held back. */
typedef enum llm_think_state {
    LLM_THINK_START,  /* nothing decided yet (nothing, or a part of "<think>") */
    LLM_THINK_IN,     /* inside the block */
    LLM_THINK_AFTER,  /* after </think>, before the answer's first non-blank byte */
    LLM_THINK_ANSWER, /* the answer: passed on as it comes */
} llm_think_state;

typedef struct llm_think {
    llm_think_state state;
    int lead;     /* inside: no reasoning passed on yet (its leading blank space is dropped) */
    int closed;   /* </think> came */
    rag_buf held; /* text not passed on yet */
} llm_think;

/* Receives a piece of reasoning (reasoning 1) or of the answer (0). */
typedef void (*llm_think_sink)(void *ctx, int reasoning, const char *text, size_t len);

void llm_think_init(llm_think *t, int think_open);
void llm_think_feed(llm_think *t, const char *text, size_t len, llm_think_sink sink, void *ctx);
/* At the end of the text: passes on what is held. */
void llm_think_flush(llm_think *t, llm_think_sink sink, void *ctx);
void llm_think_free(llm_think *t);

#endif
