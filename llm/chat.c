/* llm/chat.c: the chat template families (see llm/chat.h). Each family is a
 * table of strings around the messages; the renderer is shared. Also the
 * splitter of a reasoning model's text into reasoning and answer. */
#include "llm/chat.h"
#include "base/mem.h"

#include <string.h>

typedef struct family {
    const char *name;
    const char *marker;               /* recognises the family in template text */
    const char *sys_pre, *sys_post;   /* around a system message */
    const char *user_pre, *user_post; /* around a user message */
    const char *asst_pre, *asst_post; /* around an assistant message */
    const char *gen_prompt;           /* starts the assistant's reply */
    int system_in_user;               /* no system role: prepend it to the first user message */
    const char *think_off;            /* after gen_prompt when thinking is off, or NULL */
    int think_open;                   /* gen_prompt opens a think block */
    int strip_think; /* earlier assistant turns lose their think block (what precedes
                        </think>, and the line ends after it) */
} family;

#define CHATML_TURNS                                                                               \
    "<|im_start|>", "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n", "<|im_end|>\n",  \
        "<|im_start|>assistant\n", "<|im_end|>\n"

/* Order matters for detection: more specific markers first. */
static const family families[LLM_CHAT_N_FAMILIES] = {
    [LLM_CHAT_CHATML] = {"chatml", "<|im_start|>", "<|im_start|>system\n", "<|im_end|>\n",
                         "<|im_start|>user\n", "<|im_end|>\n", "<|im_start|>assistant\n",
                         "<|im_end|>\n", "<|im_start|>assistant\n", 0},
    [LLM_CHAT_LLAMA3] = {"llama3", "<|start_header_id|>",
                         "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
                         "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>",
                         "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>",
                         "<|start_header_id|>assistant<|end_header_id|>\n\n", 0},
    /* Llama 2 / Mistral: the system prompt sits in the first [INST] */
    [LLM_CHAT_LLAMA2] = {"llama2", "[INST]", "<<SYS>>\n", "\n<</SYS>>\n\n", "[INST] ", " [/INST]",
                         " ", "</s>", "", 1},
    [LLM_CHAT_GEMMA] = {"gemma", "<start_of_turn>", "", "\n\n", "<start_of_turn>user\n",
                        "<end_of_turn>\n", "<start_of_turn>model\n", "<end_of_turn>\n",
                        "<start_of_turn>model\n", 1},
    [LLM_CHAT_PHI3] = {"phi3", "<|assistant|>", "<|system|>\n", "<|end|>\n", "<|user|>\n",
                       "<|end|>\n", "<|assistant|>\n", "<|end|>\n", "<|assistant|>\n", 0},
    [LLM_CHAT_QWEN3] = {"qwen3", CHATML_TURNS, "<|im_start|>assistant\n", 0,
                        "<think>\n\n</think>\n\n", 0, 1},
    [LLM_CHAT_CHATML_THINK] = {"chatml-think", CHATML_TURNS, "<|im_start|>assistant\n<think>\n", 0,
                               NULL, 1, 1},
};

static int has(const char *t, size_t len, const char *s)
{
    return memmem(t, len, s, strlen(s)) != NULL;
}

/* The ChatML templates of reasoning models, told apart by what they say of
 * thinking: Qwen3's switch (enable_thinking, and the empty block it
 * writes), or a reply that always opens the block (QwQ, Qwen3 Thinking
 * 2507: '<|im_start|>assistant\n<think>\n' in the Jinja source). */
static int detect_thinking(const char *t, size_t len)
{
    if (!has(t, len, "<|im_start|>")) return -1;
    if (has(t, len, "enable_thinking") && has(t, len, "</think>")) return LLM_CHAT_QWEN3;
    if (has(t, len, "<|im_start|>assistant\\n<think>")) return LLM_CHAT_CHATML_THINK;
    return -1;
}

int llm_chat_detect(const char *tmpl, size_t len)
{
    static const llm_chat_family order[] = {LLM_CHAT_CHATML, LLM_CHAT_LLAMA3, LLM_CHAT_GEMMA,
                                            LLM_CHAT_PHI3, LLM_CHAT_LLAMA2};
    int f = detect_thinking(tmpl, len);
    if (f >= 0) return f;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (has(tmpl, len, families[order[i]].marker)) return (int)order[i];
    return -1;
}

int llm_chat_family_from_name(const char *name)
{
    if (!strcmp(name, "mistral")) return LLM_CHAT_LLAMA2;
    for (int f = 0; f < LLM_CHAT_N_FAMILIES; f++)
        if (!strcmp(name, families[f].name)) return f;
    return -1;
}

const char *llm_chat_family_name(llm_chat_family f)
{
    return families[f].name;
}

int llm_chat_family_for(const llm_gguf *g, const char *override, llm_chat_family *out,
                        int *fell_back, rag_err *err)
{
    *fell_back = 0;
    if (override) {
        int f = llm_chat_family_from_name(override);
        if (f < 0)
            return rag_err_set(err, RAG_ERR_INVALID,
                               "unknown chat template '%s' (chatml, llama3, llama2, mistral, "
                               "gemma, phi3, qwen3, chatml-think)",
                               override);
        *out = (llm_chat_family)f;
        return 0;
    }
    const char *t;
    size_t len;
    int f = -1;
    if (llm_gguf_get_str(g, "tokenizer.chat_template", &t, &len, NULL) == 0)
        f = llm_chat_detect(t, len);
    if (f < 0) {
        *fell_back = 1;
        f = LLM_CHAT_CHATML;
    }
    *out = (llm_chat_family)f;
    return 0;
}

static void frag(llm_chat_prompt *p, const char *s, size_t n, int is_template)
{
    if (!n) return;
    p->frags = rag_xgrow(p->frags, &p->cap_frags, p->n_frags + 1, sizeof *p->frags);
    p->frags[p->n_frags++] = (llm_chat_frag){p->text.len, n, is_template};
    rag_buf_append(&p->text, s, n);
}

static void tmpl(llm_chat_prompt *p, const char *s)
{
    frag(p, s, strlen(s), 1);
}

/* An earlier assistant turn's content without its think block: what
 * follows the last </think>, line ends dropped (Qwen3's and QwQ's
 * templates: content.split('</think>')[-1].lstrip('\n')). */
static const char *without_think(const char *c)
{
    const char *end = NULL;
    for (const char *p = strstr(c, "</think>"); p; p = strstr(p + 1, "</think>"))
        end = p + 8;
    if (!end) return c;
    while (*end == '\n')
        end++;
    return end;
}

int llm_chat_can_think_off(llm_chat_family f)
{
    return families[f].think_off != NULL;
}

int llm_chat_render(llm_chat_family f, const llm_chat_msg *msgs, size_t n, unsigned flags,
                    llm_chat_prompt *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    const family *F = &families[f];
    const char *pending_system = NULL; /* for families without a system role */
    for (size_t i = 0; i < n; i++) {
        const char *role = msgs[i].role, *c = msgs[i].content ? msgs[i].content : "";
        if (!strcmp(role, "system")) {
            if (F->system_in_user) {
                pending_system = c;
                continue;
            }
            tmpl(out, F->sys_pre);
            frag(out, c, strlen(c), 0);
            tmpl(out, F->sys_post);
        } else if (!strcmp(role, "user")) {
            tmpl(out, F->user_pre);
            if (pending_system) {
                tmpl(out, F->sys_pre);
                frag(out, pending_system, strlen(pending_system), 0);
                tmpl(out, F->sys_post);
                pending_system = NULL;
            }
            frag(out, c, strlen(c), 0);
            tmpl(out, F->user_post);
        } else if (!strcmp(role, "assistant")) {
            if (F->strip_think) c = without_think(c);
            tmpl(out, F->asst_pre);
            frag(out, c, strlen(c), 0);
            tmpl(out, F->asst_post);
        } else {
            llm_chat_prompt_free(out);
            return rag_err_set(err, RAG_ERR_INVALID,
                               "message %zu: role '%.40s' is not system, user or assistant", i,
                               role);
        }
    }
    if (flags & LLM_CHAT_GEN_PROMPT) {
        tmpl(out, F->gen_prompt);
        if ((flags & LLM_CHAT_THINK_OFF) && F->think_off) tmpl(out, F->think_off);
        out->think_open = F->think_open;
    }
    if (!out->text.data) rag_buf_puts(&out->text, "");
    return 0;
}

void llm_chat_prompt_free(llm_chat_prompt *p)
{
    rag_buf_free(&p->text);
    rag_free(p->frags);
    memset(p, 0, sizeof *p);
}

int llm_chat_tokenize(const llm_vocab *v, const llm_chat_prompt *p, llm_tokens *out, rag_err *err)
{
    uint8_t *mask = rag_xcalloc(p->text.len ? p->text.len : 1, 1);
    for (size_t i = 0; i < p->n_frags; i++)
        if (p->frags[i].is_template) memset(mask + p->frags[i].start, 1, p->frags[i].len);
    int rc = llm_tokenize_masked(v, rag_buf_str(&p->text), p->text.len, mask, out, err);
    rag_free(mask);
    return rc;
}

/* ---- reasoning and answer ------------------------------------------------------- */

static const char OPEN_TAG[] = "<think>", CLOSE_TAG[] = "</think>";

static int blank(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

void llm_think_init(llm_think *t, int think_open)
{
    memset(t, 0, sizeof *t);
    t->state = think_open ? LLM_THINK_IN : LLM_THINK_START;
    t->lead = 1;
}

void llm_think_free(llm_think *t)
{
    rag_buf_free(&t->held);
    memset(t, 0, sizeof *t);
}

/* Drops held[0..n). */
static void drop(llm_think *t, size_t n)
{
    if (!n) return;
    memmove(t->held.data, t->held.data + n, t->held.len - n);
    t->held.len -= n;
    t->held.data[t->held.len] = 0;
}

static void pass(llm_think *t, int reasoning, size_t n, llm_think_sink sink, void *ctx)
{
    if (n) sink(ctx, reasoning, t->held.data, n);
    drop(t, n);
}

/* The length of the longest proper prefix of tag that ends s[0..n). */
static size_t partial_tag(const char *s, size_t n, const char *tag)
{
    size_t tl = strlen(tag);
    for (size_t k = tl - 1 < n ? tl - 1 : n; k > 0; k--)
        if (!memcmp(s + n - k, tag, k)) return k;
    return 0;
}

/* Passes on what the held text decides; keeps the rest. */
static void advance(llm_think *t, llm_think_sink sink, void *ctx)
{
    for (;;) {
        const char *h = t->held.data;
        size_t n = t->held.len, b = 0;
        switch (t->state) {
        case LLM_THINK_START: /* the tag opens the text, or the text is the answer */
            if (n >= sizeof OPEN_TAG - 1 && !memcmp(h, OPEN_TAG, sizeof OPEN_TAG - 1)) {
                drop(t, sizeof OPEN_TAG - 1);
                t->state = LLM_THINK_IN;
                continue;
            }
            if (n < sizeof OPEN_TAG - 1 && !memcmp(h, OPEN_TAG, n)) return;
            t->state = LLM_THINK_ANSWER;
            continue;
        case LLM_THINK_IN: {
            if (t->lead) {
                while (b < n && blank(h[b]))
                    b++;
                drop(t, b);
                if (!t->held.len) return;
                h = t->held.data, n = t->held.len;
            }
            const char *end = memmem(h, n, CLOSE_TAG, sizeof CLOSE_TAG - 1);
            size_t cut = end ? (size_t)(end - h) : n - partial_tag(h, n, CLOSE_TAG), keep = cut;
            while (keep > 0 && blank(h[keep - 1])) /* may be the block's last blank space */
                keep--;
            if (keep) t->lead = 0;
            pass(t, 1, keep, sink, ctx);
            if (!end) return;
            drop(t, cut - keep + sizeof CLOSE_TAG - 1);
            t->closed = 1;
            t->state = LLM_THINK_AFTER;
            continue;
        }
        case LLM_THINK_AFTER:
            while (b < n && blank(h[b]))
                b++;
            drop(t, b);
            if (!t->held.len) return;
            t->state = LLM_THINK_ANSWER;
            continue;
        case LLM_THINK_ANSWER:
            pass(t, 0, n, sink, ctx);
            return;
        }
    }
}

void llm_think_feed(llm_think *t, const char *text, size_t len, llm_think_sink sink, void *ctx)
{
    if (!len) return;
    rag_buf_append(&t->held, text, len);
    advance(t, sink, ctx);
}

void llm_think_flush(llm_think *t, llm_think_sink sink, void *ctx)
{
    size_t n = t->held.len;
    if (t->state == LLM_THINK_START) { /* the start of "<think>": text */
        pass(t, 0, n, sink, ctx);
    } else if (t->state == LLM_THINK_IN) { /* unterminated: a cut tag is text, blank space is not */
        while (n > 0 && blank(t->held.data[n - 1]))
            n--;
        pass(t, 1, n, sink, ctx);
    }
    rag_buf_clear(&t->held);
}
