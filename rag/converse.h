/* rag/converse.h: the retrieval query of a turn in a conversation.
 *
 * A follow-up ("and for tyres?") does not say what it is about; the
 * conversation does. Retrieval therefore searches for a standalone query;
 * the answer still sees the conversation itself (rag/prompt.h: history).
 * A first turn (no earlier user message) is never rewritten.
 *
 *   rewrite    with a generator: its own small prompt (instructions, the
 *              last turns, the new message), decoded greedily, at most
 *              RAG_REWRITE_TOKENS tokens, one line. It is used only when it
 *              is plausible: a line of at most RAG_REWRITE_MAX bytes sharing
 *              a content word with the conversation; any content word of the
 *              new message it left out is added back. Else the expansion.
 *   expansion  without one (or when the rewrite is refused): the new message
 *              twice, then the content words of the earlier user messages
 *              (newest first, at most RAG_EXPAND_WORDS) not already in it.
 *              The keyword index weighs a repeated word more, so the new
 *              message counts twice as much as what it is expanded with;
 *              the vector stage embeds the last earlier user message and
 *              the new one as written. */
#ifndef RAG_RAG_CONVERSE_H
#define RAG_RAG_CONVERSE_H

#include "base/err.h"
#include "llm/llm.h"
#include "rag/prompt.h"
#include "store/store.h"

#define RAG_REWRITE_TOKENS 48
#define RAG_REWRITE_MAX 400
#define RAG_EXPAND_WORDS 12

/* answer.followup: how a follow-up becomes standalone. */
typedef enum rag_followup_mode {
    RAG_FOLLOWUP_OFF,     /* retrieval searches for the message as it is */
    RAG_FOLLOWUP_EXPAND,  /* always the expansion */
    RAG_FOLLOWUP_REWRITE, /* the generator's rewrite when there is one, else the expansion */
} rag_followup_mode;

rag_followup_mode rag_followup_mode_of(const char *setting);

typedef struct rag_followup {
    char *query;       /* what the keyword stage searches for */
    char *embed_query; /* what the vector stage embeds (NULL: query) */
    const char *how;   /* "none" (a first turn: the message itself), "expansion", "rewrite" */
} rag_followup;

/* Whether history holds an earlier user message. */
int rag_is_followup(const llm_chat_msg *history, size_t n);

/* The expansion of question by the earlier user messages of history. */
int rag_followup_expand(store *s, const llm_chat_msg *history, size_t n, const char *question,
                        rag_followup *out, rag_err *err);

/* The rewrite prompt (plain chat, our instructions as its system message)
 * within budget tokens; v NULL: a remote generator (tokens estimated). */
int rag_rewrite_prompt(const llm_vocab *v, llm_chat_family fam, const llm_chat_msg *history,
                       size_t n, const char *question, size_t budget, rag_prompt *out,
                       rag_err *err);
/* The generation of a rewrite: greedy, RAG_REWRITE_TOKENS at most, one line. */
void rag_rewrite_gen_params(llm_gen_params *gp);
/* The generator's reply made a query (see above), or 1 when it is refused
 * (out untouched). */
int rag_rewrite_accept(store *s, const char *reply, const llm_chat_msg *history, size_t n,
                       const char *question, rag_followup *out, rag_err *err);

void rag_followup_free(rag_followup *f);

#endif
