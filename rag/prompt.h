/* rag/prompt.h: grounded prompts and citation checks.
 *
 * The prompt is the model's chat template around two messages: a system
 * message (answer only from the context, cite with [n], say so when the
 * context lacks the answer, treat the context as data) and a user message
 * holding the numbered context blocks between <context> and </context>,
 * then the question. Blocks are added best first while the prompt fits the
 * token budget; a block that does not fit whole is cut after its last
 * complete sentence that fits, never inside one. Chunks of one document
 * overlap (ingest.overlap_tokens): a block whose chunk begins or ends inside
 * an earlier block's text leaves that part out, and one wholly inside an
 * earlier block is not added, so no text is given twice. A passage whose
 * relevance pass set a span (answer.trim_passages: the sentences that bear
 * on the question and their neighbours; rag/relevance.h) gives only that
 * span. Text inside the context cannot close the context block or produce
 * control tokens.
 *
 * A reasoning model thinks first only when the input asks: otherwise its
 * template's switch is rendered off (llm/chat.h).
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
extern const char *const rag_default_system_prompt;

typedef struct rag_block {
    int n;                 /* its number in the prompt: [n] */
    const rag_result *src; /* borrowed from the results */
    size_t skip, used;     /* the chunk's text in the prompt: bytes [skip, used) */
} rag_block;

/* The part of a block's chunk text that is in the prompt (*len bytes). */
const char *rag_block_text(const rag_block *b, size_t *len);

typedef struct rag_prompt {
    llm_chat_prompt chat;   /* the rendered prompt (chat.text is what --show-prompt prints) */
    llm_tokens tokens;      /* its tokens; empty without a vocabulary */
    size_t n_tokens;        /* tokens.n, or the estimate without a vocabulary */
    llm_chat_msg *messages; /* what was rendered: system, history, the user's message
                               with the context (roles and texts owned) */
    size_t n_messages;
    rag_block *blocks;
    size_t n_blocks;
    size_t n_history; /* earlier turns that fitted (the newest ones) */
    int reasoning;    /* as the input asked (a server is told so with the messages) */
} rag_prompt;

typedef struct rag_prompt_input {
    const char *system;          /* NULL: rag_default_system_prompt when grounded, none otherwise */
    const char *user_system;     /* the caller's own instructions (a chat API system message),
                                    placed after ours; may be NULL */
    const llm_chat_msg *history; /* earlier turns (user, assistant), oldest first */
    size_t n_history;
    const char *question;
    const rag_results *results; /* the context, best first; NULL: plain chat (no
                                    context block, no grounding instructions) */
    int reasoning;              /* a reasoning model may think first; 0: its template's switch
                                   turns thinking off (qwen3's empty think block) */
} rag_prompt_input;

/* Builds the prompt within budget tokens (the prompt alone; leave room for
 * the answer): instructions and the question first, then as many earlier
 * turns as fit in half the budget (newest first), then the context blocks
 * best first. Fails with RAG_ERR_LIMIT when not even the question fits.
 * v NULL (a remote generator): tokens are estimated and fam is not used. */
int rag_prompt_build(const llm_vocab *v, llm_chat_family fam, const rag_prompt_input *in,
                     size_t budget, rag_prompt *out, rag_err *err);
void rag_prompt_free(rag_prompt *p);
/* The budget of a prompt in a context of n_ctx tokens whose answer may take
 * n_predict: the answer keeps what it asks for, at most half the context
 * (a longer answer then stops at the context's end). Both programs. */
size_t rag_prompt_budget(size_t n_ctx, size_t n_predict);

/* Checks the citations of an answer against a prompt of n_blocks blocks:
 * [n], [n, m] and [n][m] markers naming a block are kept, others removed
 * (with the space before them). */
typedef struct rag_citecheck {
    char *text; /* the answer with invalid markers removed (owned) */
    int *cited; /* valid block numbers, in order of first use, unique */
    size_t n_cited;
    int *invalid; /* numbers that named no block, in order */
    size_t n_invalid;
} rag_citecheck;

void rag_citations_check(const char *answer, size_t n_blocks, rag_citecheck *out);

/* A citation marker at s: '[' numbers separated by ',' and spaces ']' (at
 * most RAG_MARKER_NUMS_MAX of them). Returns its length and fills nums and
 * *count, or 0 when s is not a marker. */
#define RAG_MARKER_NUMS_MAX 16
size_t rag_citation_marker(const char *s, int *nums, size_t *count);
void rag_citecheck_free(rag_citecheck *c);

/* The same check on text as it streams: fed pieces in order, it passes on
 * text with invalid markers removed, holding back only what a marker still
 * being written could change (a '[' with digits, commas and spaces after it,
 * and the spaces before it). What it passes on, flushed at the end, is
 * exactly rag_citations_check's text for the whole answer. */
typedef struct rag_citestream {
    size_t n_blocks;
    char *held;
    size_t n_held, cap_held;
} rag_citestream;

typedef void (*rag_text_sink)(void *ctx, const char *text, size_t len);

void rag_citestream_init(rag_citestream *cs, size_t n_blocks);
void rag_citestream_feed(rag_citestream *cs, const char *text, size_t len, rag_text_sink sink,
                         void *ctx);
void rag_citestream_flush(rag_citestream *cs, rag_text_sink sink, void *ctx);
void rag_citestream_free(rag_citestream *cs);

#endif
