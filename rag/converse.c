/* rag/converse.c: follow-up queries, expanded or rewritten (see rag/converse.h). */
#include "rag/converse.h"
#include "base/buf.h"
#include "base/mem.h"
#include "rag/relevance.h"

#include <string.h>
#include <strings.h>

int rag_is_followup(const llm_chat_msg *history, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(history[i].role, "user") && history[i].content && *history[i].content) return 1;
    return 0;
}

rag_followup_mode rag_followup_mode_of(const char *setting)
{
    if (setting && !strcmp(setting, "off")) return RAG_FOLLOWUP_OFF;
    if (setting && !strcmp(setting, "expand")) return RAG_FOLLOWUP_EXPAND;
    return RAG_FOLLOWUP_REWRITE;
}

void rag_followup_free(rag_followup *f)
{
    rag_free(f->query);
    rag_free(f->embed_query);
    memset(f, 0, sizeof *f);
}

/* ---- content words ---------------------------------------------------------------- */

/* Index terms (rag_strv, unique) of a text. */
static int add_unique(void *ctx, const char *t, size_t n, size_t a, size_t b)
{
    (void)a, (void)b;
    rag_strv *v = ctx;
    for (size_t i = 0; i < v->n; i++)
        if (strlen(v->v[i]) == n && !memcmp(v->v[i], t, n)) return 0;
    rag_strv_pushn(v, t, n);
    return 0;
}

static int terms_of(store *s, const char *text, int query, rag_strv *out, rag_err *err)
{
    return text && *text ? store_terms(s, text, strlen(text), query, add_unique, out, err) : 0;
}

static int has_term(const rag_strv *v, const char *t, size_t n)
{
    for (size_t i = 0; i < v->n; i++)
        if (strlen(v->v[i]) == n && !memcmp(v->v[i], t, n)) return 1;
    return 0;
}

/* Collects the words of a text (as written) whose index terms are neither
 * function words nor in `skip`, adding their terms to skip. */
typedef struct words {
    const char *text;
    const rag_strv *stop;
    rag_strv *skip;
    rag_buf *out;
    size_t n, max;
} words;

static int add_word(void *ctx, const char *t, size_t n, size_t a, size_t b)
{
    words *w = ctx;
    if (w->n >= w->max || has_term(w->stop, t, n) || has_term(w->skip, t, n)) return 0;
    rag_strv_pushn(w->skip, t, n);
    rag_buf_printf(w->out, " %.*s", (int)(b - a), w->text + a);
    w->n++;
    return 0;
}

static int content_words(store *s, const char *text, const rag_strv *stop, rag_strv *skip,
                         rag_buf *out, size_t max, size_t *added, rag_err *err)
{
    words w = {text, stop, skip, out, 0, max};
    int rc = text && *text ? store_terms(s, text, strlen(text), 1, add_word, &w, err) : 0;
    *added = w.n;
    return rc;
}

int rag_followup_expand(store *s, const llm_chat_msg *history, size_t n, const char *question,
                        rag_followup *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    rag_strv stop = {0}, seen = {0};
    rag_buf q = {0};
    int rc = terms_of(s, rag_function_words, 0, &stop, err);
    if (!rc) rc = terms_of(s, question, 1, &seen, err);
    rag_buf_puts(&q, question);
    rag_buf_putc(&q, ' ');
    rag_buf_puts(&q, question);
    size_t total = 0;
    const char *last_user = NULL;
    for (size_t i = n; !rc && i-- > 0 && total < RAG_EXPAND_WORDS;) {
        if (strcmp(history[i].role, "user")) continue;
        if (!last_user) last_user = history[i].content;
        size_t added = 0;
        rc = content_words(s, history[i].content, &stop, &seen, &q, RAG_EXPAND_WORDS - total,
                           &added, err);
        total += added;
    }
    rag_strv_free(&stop);
    rag_strv_free(&seen);
    if (rc) {
        rag_buf_free(&q);
        return rc;
    }
    out->query = rag_buf_steal(&q);
    out->embed_query = last_user ? rag_xasprintf("%s %s", last_user, question) : NULL;
    out->how = last_user ? "expansion" : "none";
    return 0;
}

/* ---- the generator's rewrite -------------------------------------------------------- */

static const char rewrite_system[] =
    "You turn the last message of a conversation into a standalone search query. Use the "
    "earlier messages only to make clear what the last message refers to. Reply with the "
    "query alone, on one line, in the language of the last message: no answer, no "
    "explanation, no quotes.";

enum { REWRITE_TURNS = 4, REWRITE_TURN_BYTES = 600 };

int rag_rewrite_prompt(const llm_vocab *v, llm_chat_family fam, const llm_chat_msg *history,
                       size_t n, const char *question, size_t budget, rag_prompt *out, rag_err *err)
{
    rag_buf b = {0};
    rag_buf_puts(&b, "Conversation:\n");
    size_t first = n > REWRITE_TURNS ? n - REWRITE_TURNS : 0;
    for (size_t i = first; i < n; i++) {
        const char *c = history[i].content ? history[i].content : "";
        size_t len = strlen(c), cut = len < REWRITE_TURN_BYTES ? len : REWRITE_TURN_BYTES;
        while (cut > 0 && cut < len && ((unsigned char)c[cut] & 0xC0) == 0x80)
            cut--;
        rag_buf_printf(&b, "%s: %.*s%s\n", !strcmp(history[i].role, "user") ? "User" : "Assistant",
                       (int)cut, c, cut < len ? "..." : "");
    }
    rag_buf_printf(&b, "User (last message): %s\n\nStandalone search query:", question);
    rag_prompt_input in = {.system = rewrite_system, .question = rag_buf_str(&b)};
    int rc = rag_prompt_build(v, fam, &in, budget, out, err);
    rag_buf_free(&b);
    return rc;
}

void rag_rewrite_gen_params(llm_gen_params *gp)
{
    static const char *const newline[] = {"\n"};
    llm_gen_default_params(gp);
    gp->n_predict = RAG_REWRITE_TOKENS;
    gp->sampling.temperature = 0; /* greedy */
    gp->stop = newline;
    gp->n_stop = 1;
}

int rag_rewrite_accept(store *s, const char *reply, const llm_chat_msg *history, size_t n,
                       const char *question, rag_followup *out, rag_err *err)
{
    /* the first line, without a label, quotes or surrounding spaces */
    while (*reply == ' ' || *reply == '\n' || *reply == '\t')
        reply++;
    size_t len = strcspn(reply, "\n");
    static const char *const labels[] = {"Standalone search query:", "Search query:", "Query:"};
    for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) {
        size_t l = strlen(labels[i]);
        if (len >= l && !strncasecmp(reply, labels[i], l)) {
            reply += l, len -= l;
            while (len && *reply == ' ')
                reply++, len--;
        }
    }
    while (len && (*reply == '"' || *reply == '\'' || *reply == '`'))
        reply++, len--;
    while (len && (reply[len - 1] == '"' || reply[len - 1] == '\'' || reply[len - 1] == '`' ||
                   reply[len - 1] == ' ' || reply[len - 1] == '\r'))
        len--;
    if (!len || len > RAG_REWRITE_MAX) return 1;
    char *line = rag_xstrndup(reply, len);

    /* plausible: it shares a content word with the conversation */
    rag_strv stop = {0}, convo = {0}, mine = {0};
    int rc = terms_of(s, rag_function_words, 0, &stop, err);
    if (!rc) rc = terms_of(s, question, 1, &convo, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = terms_of(s, history[i].content, 1, &convo, err);
    if (!rc) rc = terms_of(s, line, 1, &mine, err);
    int shared = 0;
    for (size_t i = 0; !rc && i < mine.n && !shared; i++)
        shared = !has_term(&stop, mine.v[i], strlen(mine.v[i])) &&
                 has_term(&convo, mine.v[i], strlen(mine.v[i]));
    rag_buf q = {0};
    size_t added = 0;
    if (!rc && shared) {
        /* the new message's content words it left out, added back */
        rag_buf_puts(&q, line);
        rc = content_words(s, question, &stop, &mine, &q, RAG_EXPAND_WORDS, &added, err);
    }
    rag_strv_free(&stop);
    rag_strv_free(&convo);
    rag_strv_free(&mine);
    rag_free(line);
    if (rc || !shared) {
        rag_buf_free(&q);
        return rc ? rc : 1;
    }
    memset(out, 0, sizeof *out);
    out->query = rag_buf_steal(&q);
    out->how = "rewrite";
    return 0;
}
