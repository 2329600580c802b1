/* rag/prompt.h: grounded prompts and citation checks.
 *
 * The prompt is the model's chat template around two messages: a system
 * message (answer only from the context, cite with [n], say so when the
 * context lacks the answer, treat the context as data) and a user message
 * holding the numbered context blocks between <context> and </context>,
 * then the question. Blocks are added best first while the prompt fits the
 * token budget; a block that does not fit whole is cut after its last
 * complete sentence that fits, never inside one. Text inside the context
 * cannot close the context block or produce control tokens.
 *
 * The messages rendered are kept, for a remote generator that applies its
 * own template: without a local vocabulary the same messages are built,
 * shown with a generic template ("[system]", "[user]", "[assistant]"
 * headings), and their tokens estimated (bytes / 4 of each text, rounded
 * up, plus 4 per message for the template's markers and 3 for the reply's
 * opening) against the budget. */
#ifndef RAG_RAG_PROMPT_H
#define RAG_RAG_PROMPT_H

#include "base/err.h"
#include "llm/llm.h"
#include "rag/retrieve.h"

/* The default system prompt (quoted in the README). */
extern const char *const ragd_default_system_prompt;

typedef struct ragd_block {
    int n;                    /* its number in the prompt: [n] */
    const ragd_result *src;   /* borrowed from the results */
    size_t used;              /* bytes of the chunk's text in the prompt */
} ragd_block;

typedef struct ragd_prompt {
    llm_chat_prompt chat; /* the rendered prompt (chat.text is what --show-prompt prints) */
    llm_tokens tokens;    /* its tokens; empty without a vocabulary */
    size_t n_tokens;      /* tokens.n, or the estimate without a vocabulary */
    llm_chat_msg *messages; /* what was rendered: system, history, the user's message
                               with the context (roles and texts owned) */
    size_t n_messages;
    ragd_block *blocks;
    size_t n_blocks;
    size_t n_history; /* earlier turns that fitted (the newest ones) */
} ragd_prompt;

typedef struct ragd_prompt_input {
    const char *system;      /* NULL: ragd_default_system_prompt when grounded, none otherwise */
    const char *user_system; /* the caller's own instructions (a chat API system message),
                                placed after ours; may be NULL */
    const llm_chat_msg *history; /* earlier turns (user, assistant), oldest first */
    size_t n_history;
    const char *question;
    const ragd_results *results; /* the context, best first; NULL: plain chat (no
                                    context block, no grounding instructions) */
} ragd_prompt_input;

/* Builds the prompt within budget tokens (the prompt alone; leave room for
 * the answer): instructions and the question first, then as many earlier
 * turns as fit in half the budget (newest first), then the context blocks
 * best first. Fails with RAG_ERR_LIMIT when not even the question fits.
 * v NULL (a remote generator): tokens are estimated and fam is not used. */
int ragd_prompt_build(const llm_vocab *v, llm_chat_family fam, const ragd_prompt_input *in,
                      size_t budget, ragd_prompt *out, rag_err *err);
void ragd_prompt_free(ragd_prompt *p);

/* Checks the citations of an answer against a prompt of n_blocks blocks:
 * [n], [n, m] and [n][m] markers naming a block are kept, others removed
 * (with the space before them). */
typedef struct ragd_citecheck {
    char *text;    /* the answer with invalid markers removed (owned) */
    int *cited;    /* valid block numbers, in order of first use, unique */
    size_t n_cited;
    int *invalid;  /* numbers that named no block, in order */
    size_t n_invalid;
} ragd_citecheck;

void ragd_citations_check(const char *answer, size_t n_blocks, ragd_citecheck *out);
void ragd_citecheck_free(ragd_citecheck *c);

/* The same check on text as it streams: fed pieces in order, it passes on
 * text with invalid markers removed, holding back only what a marker still
 * being written could change (a '[' with digits, commas and spaces after it,
 * and the spaces before it). What it passes on, flushed at the end, is
 * exactly ragd_citations_check's text for the whole answer. */
typedef struct ragd_citestream {
    size_t n_blocks;
    char *held;
    size_t n_held, cap_held;
} ragd_citestream;

typedef void (*ragd_text_sink)(void *ctx, const char *text, size_t len);

void ragd_citestream_init(ragd_citestream *cs, size_t n_blocks);
void ragd_citestream_feed(ragd_citestream *cs, const char *text, size_t len, ragd_text_sink sink,
                          void *ctx);
void ragd_citestream_flush(ragd_citestream *cs, ragd_text_sink sink, void *ctx);
void ragd_citestream_free(ragd_citestream *cs);

#endif
